/* The disk spool: append-only, checksummed segments holding batches PostgreSQL has not taken. */
#ifndef IOCD_SPOOL_H
#define IOCD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct spool spool_t;

typedef struct spool_opts {
    const char *dir;         /* created if missing (0700) */
    uint64_t max_bytes;      /* cap on bytes on disk; appends beyond it fail with IOC_EFULL */
    uint64_t segment_bytes;  /* roll to a new segment file past this size (default 16 MiB) */
} spool_opts_t;

/* Completion of spool_append: IOC_OK once the record is written and fsync'd, or an error
 * (IOC_EFULL over the cap, IOC_EIO for a disk error such as ENOSPC). */
typedef void (*spool_append_cb)(void *ud, int status);
/* Completion of spool_peek: IOC_OK with the oldest record (valid until spool_pop or the next
 * peek), IOC_ENOTFOUND when the spool is empty, or an error. */
typedef void (*spool_peek_cb)(void *ud, int status, const void *rec, size_t len);

/* Opens the spool directory and scans it (on the calling thread: call before the loop runs).
 * A torn or corrupt tail is cut at the last good record and counted. Returns 0 or ioc_err_t. */
int spool_open(uv_loop_t *loop, const spool_opts_t *opts, spool_t **out);
/* Appends one record asynchronously (disk work runs off the loop); records are appended and
 * completed in call order. `rec` is copied. Returns 0 (cb will run) or an ioc_err_t. */
int spool_append(spool_t *sp, const void *rec, size_t len, spool_append_cb cb, void *ud);
/* Reads the oldest record asynchronously. One peek at a time. Returns 0 (cb will run) or error. */
int spool_peek(spool_t *sp, spool_peek_cb cb, void *ud);
/* Marks the oldest record consumed (the one the last peek returned); persists the read
 * position and deletes a segment once fully consumed (asynchronously). Returns 0 or error. */
int spool_pop(spool_t *sp);
/* Records on disk not yet popped (including appends in flight). */
uint64_t spool_records(const spool_t *sp);
/* Bytes on disk not yet popped (including appends in flight). */
uint64_t spool_bytes(const spool_t *sp);
/* Waits for queued disk work, then frees the spool; `done` (may be NULL) runs after. */
void spool_close(spool_t *sp, void (*done)(void *ud), void *ud);

typedef struct spool_stats {
    uint64_t records_appended, records_popped, rejected_full, write_errors;
    uint64_t corrupt_cuts;  /* torn/corrupt tails cut at open or read */
    uint64_t bytes_cut;     /* bytes discarded by those cuts */
} spool_stats_t;
void spool_get_stats(const spool_t *sp, spool_stats_t *out);

#endif
