/* Test helpers for the engine's database side: throwaway databases and blocking queries. */
#ifndef IOCD_TEST_HELPER_DB_H
#define IOCD_TEST_HELPER_DB_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* Creates a fresh database on IOCD_TEST_DSN; returns its DSN (caller frees), or NULL when
 * IOCD_TEST_DSN is not set. */
char *helper_db_make(void);
/* Runs sql on dsn (blocking) and returns the first column of the first row as a double;
 * fails the test on error or no row. */
double helper_db_number(const char *dsn, const char *sql);
/* Runs sql (blocking); fails the test on error. */
void helper_db_exec(const char *dsn, const char *sql);
/* Runs the loop until *flag or timeout_ms; returns *flag. */
bool helper_db_run_until(uv_loop_t *loop, const volatile bool *flag, uint64_t timeout_ms);

#endif
