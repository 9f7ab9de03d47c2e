/* The PostgreSQL store: one async libpq connection on the loop, migrations, batch commits. */
#ifndef IOCD_STORE_H
#define IOCD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "ingest/batch.h"

typedef struct store store_t;

/* Called when the store goes up (connected and migrated) or down. */
typedef void (*store_state_cb)(void *ud, bool up);
/* Result of store_commit: IOC_OK when the batch is in PostgreSQL (also when it had been
 * committed before and was skipped as a duplicate), or a negative code when it is not: the
 * caller keeps the batch and retries or spools it. IOC_EINVAL: the server refused the batch's
 * data (SQLSTATE class 22 or 23, but for a missing partition); other codes (connection lost,
 * disk full, read-only server) say nothing about the batch. */
typedef void (*store_commit_cb)(void *ud, int status);

typedef struct store_opts {
    const char *dsn;           /* libpq connection string; copied */
    uint32_t retry_min_ms;     /* reconnect back-off start (default 200) */
    uint32_t retry_max_ms;     /* reconnect back-off cap (default 10000) */
    uint32_t partition_ahead;  /* daily partitions created ahead of today (default 3) */
    uint64_t retention_raw_ms; /* drop raw partitions older than this; 0 = keep forever */
    store_state_cb on_state;
    void *ud;
} store_opts_t;

/* Creates the store and starts connecting on `loop` (never blocks). Returns 0 or an ioc_err_t. */
int store_create(uv_loop_t *loop, const store_opts_t *opts, store_t **out);
/* True when connected, migrated and able to take a commit now (no commit in flight). */
bool store_idle(const store_t *s);
/* True when connected and migrated. */
bool store_up(const store_t *s);
/* Commits one batch in one transaction: interns new series, COPYs the samples in binary and
 * records batch->id; a batch whose id is already recorded is skipped. One commit at a time:
 * returns IOC_EAGAIN if one is in flight, IOC_EDB if down. The batch must stay alive until
 * cb runs; cb always runs exactly once if 0 was returned. */
int store_commit(store_t *s, const batch_t *batch, store_commit_cb cb, void *ud);
/* Closes the connection and frees the store once its handles are closed; an in-flight commit
 * gets cb(IOC_ECLOSED). `done` may be NULL. */
void store_close(store_t *s, void (*done)(void *ud), void *ud);

/* Counters for /metrics and /healthz. */
typedef struct store_stats {
    uint64_t batches_committed, samples_committed, batches_duplicate;
    uint64_t commit_errors, reconnects, series_interned;
} store_stats_t;
void store_get_stats(const store_t *s, store_stats_t *out);

#endif
