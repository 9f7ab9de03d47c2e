/* Ingest: validates and interns samples, seals batches, and routes them to the store or the spool. */
#ifndef IOCD_INGEST_H
#define IOCD_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "ingest/series.h"
#include "ioc/collector.h"
#include "store/spool.h"
#include "store/store.h"

typedef struct ingest ingest_t;

typedef struct ingest_opts {
    uint32_t batch_max_samples;  /* seal a batch at this many samples */
    uint64_t batch_max_delay_ms; /* ... or this long after its first sample */
    uint32_t queue_max_batches;  /* sealed batches waiting for the store; beyond: spool */
    uint32_t max_series;         /* series registry cap; new series beyond it are dropped */
    uint32_t max_spool_inflight; /* batches being written to the spool at once (default 8) */
    store_t *store;              /* borrowed; may be NULL only in tests that never commit */
    spool_t *spool;              /* borrowed */
    /* Sees every accepted sample (the engine); NULL for none. */
    void (*on_sample)(void *ud, const series_t *se, int64_t ts_us, double value);
    void *on_sample_ud;
} ingest_opts_t;

/* Result of a durability wait: IOC_OK once every sample submitted before the wait is committed
 * to PostgreSQL or fsync'd to the spool; IOC_EFULL if some of them were dropped (spool full or
 * disk error); IOC_ECLOSED if ingest closed first. */
typedef void (*ingest_durable_cb)(void *ud, int status);

/* Creates ingest on the loop. Returns 0 or an ioc_err_t. */
int ingest_create(uv_loop_t *loop, const ingest_opts_t *opts, ingest_t **out);
/* Takes n samples (copied). All or nothing: returns IOC_OK, IOC_EFULL when ingest cannot take
 * them now (queue and spool back-pressure; counted as dropped by the caller's choice), or
 * IOC_EINVAL for the first invalid sample (valid ones before it are kept; reason in err). */
int ingest_submit(ingest_t *in, const ioc_sample_t *samples, size_t n, int64_t now_us, char *err,
                  size_t errlen);
/* A mark before a run of submits: pass it to ingest_when_durable to wait for all of them. */
uint64_t ingest_mark(const ingest_t *in);
/* Calls cb once every sample submitted since `mark` is durable, with IOC_EFULL if any of them
 * was dropped. Seals the open batch now so the caller does not wait for the batch timer.
 * Returns 0 or IOC_ENOMEM. */
int ingest_when_durable(ingest_t *in, uint64_t mark, ingest_durable_cb cb, void *ud);
/* Sets the store once it exists (the embedded database starts after ingest). */
void ingest_set_store(ingest_t *in, store_t *store);
/* The store went up or down (wired to store_opts.on_state): resumes commits or replay. */
void ingest_store_state(ingest_t *in, bool up);
/* Seals the open batch and waits until every batch is committed or spooled, at most
 * timeout_ms before moving what is left to the spool; then calls done. For SIGTERM. */
void ingest_drain(ingest_t *in, uint64_t timeout_ms, void (*done)(void *ud), void *ud);
/* Frees ingest (after ingest_drain). Waiters still pending get IOC_ECLOSED. */
void ingest_free(ingest_t *in);

typedef struct ingest_stats {
    uint64_t samples_received, samples_committed, samples_spooled, samples_replayed;
    uint64_t samples_dropped_full, samples_invalid, samples_dropped_series;
    uint64_t batches_sealed;
    uint32_t queue_batches, queue_samples, spool_inflight;
    size_t series;
} ingest_stats_t;
void ingest_get_stats(const ingest_t *in, ingest_stats_t *out);

#endif
