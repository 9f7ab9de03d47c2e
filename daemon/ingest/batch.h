/* A batch of samples: the unit that ingest seals, the store commits and the spool keeps. */
#ifndef IOCD_BATCH_H
#define IOCD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

/* One series referenced by the batch: metric plus canonical tags. */
typedef struct batch_series {
    char *metric;    /* owned, UTF-8 */
    char *tags_json; /* owned; canonical compact JSON object, keys sorted bytewise, e.g. {"district":"Tân An","id":"s1"} */
} batch_series_t;

typedef struct batch_sample {
    uint32_t series; /* index into batch_t.series */
    int64_t ts_us;   /* microseconds since the epoch */
    double value;
} batch_sample_t;

typedef struct batch {
    uint64_t id; /* unique across restarts: commit records it so a replay is stored exactly once */
    uint32_t nseries, series_cap;
    batch_series_t *series;
    uint32_t nsamples, samples_cap;
    batch_sample_t *samples;
} batch_t;

/* Allocates an empty batch with the given id. Returns NULL on ENOMEM. Free with batch_free. */
batch_t *batch_new(uint64_t id);
/* Frees the batch and everything it owns. NULL is fine. */
void batch_free(batch_t *b);
/* Adds a series (copies both strings); returns its index (>= 0) or IOC_ENOMEM. Does not dedupe:
 * ingest keeps one index per series per batch. */
int batch_add_series(batch_t *b, const char *metric, const char *tags_json);
/* Appends one sample of series index `series`. Returns 0 or IOC_ENOMEM. */
int batch_add_sample(batch_t *b, uint32_t series, int64_t ts_us, double value);

/* Serialises the batch (for the spool) by appending to out. Returns 0 or an ioc_err_t. */
int batch_encode(const batch_t *b, strbuf_t *out);
/* Parses a record written by batch_encode. Returns 0 and a new batch (caller frees), or
 * IOC_ECORRUPT for anything malformed (bounds are checked; never reads past len). */
int batch_decode(const void *data, size_t len, batch_t **out);

/* Batch ids do not depend on the clock (which may step back across a restart): an id is
 * epoch (20 bits: starts of this state_dir) | instance (12 bits: random per state_dir, so two
 * daemons sharing a database rarely meet) | counter (31 bits). */

/* Reads <state_dir>/batch_epoch, increments the epoch and writes it back durably (temp file,
 * fsync, rename) before any id is made. Call once at start-up, before the loop runs (it does
 * blocking file I/O). Returns 0 or IOC_EIO with the reason in err. */
int batch_id_init(const char *state_dir, char *err, size_t errlen);
/* Makes a new batch id, strictly increasing within the process. Without batch_id_init (tests)
 * the epoch is 0 and the instance bits come from the clock. */
uint64_t batch_next_id(void);

#endif
