/* Test helpers shared by unit tests: throwaway databases and running the loop until a condition. */
#ifndef IOCD_TEST_HELPER_PG_H
#define IOCD_TEST_HELPER_PG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

/* Creates a fresh database on IOCD_TEST_DSN; returns its DSN (caller frees). */
char *helper_make_db(void);
/* Runs sql on dsn with a blocking connection; fails the test on error. Caller PQclears. */
PGresult *helper_query(const char *dsn, const char *sql);
/* The single value sql returns (caller frees). */
char *helper_value(const char *dsn, const char *sql);
/* The single integer sql returns. */
long long helper_count(const char *dsn, const char *sql);
/* Runs loop until *flag or timeout_ms pass; returns *flag. */
bool helper_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t timeout_ms);

#endif
