/* The series registry: interns metric + sorted tags into a canonical, bounded set of series. */
#ifndef IOCD_SERIES_H
#define IOCD_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "core/hashmap.h"
#include "ioc/collector.h"

/* One interned series. Owned by the registry; lives until the registry is freed. */
typedef struct series {
    char *key;             /* metric + '\x1f' + tags_json: the registry key (owned) */
    char *metric;          /* owned copy of the metric name */
    const char *tags_json; /* points into key: canonical JSON object, keys sorted bytewise */
    uint64_t batch_gen;    /* ingest bookkeeping: the batch this series was last added to */
    uint32_t batch_index;  /* ... and its index there */
    void *engine_slot;     /* the engine's binding for this series (set and owned by the engine,
                            * which lives as long as ingest); NULL until first seen */
} series_t;

typedef struct series_registry {
    hashmap_t map;
    series_t **all;    /* every interned series, for freeing */
    size_t count, cap;
    size_t max_series; /* new series beyond this are refused (IOC_EFULL) */
} series_registry_t;

/* Initialises an empty registry holding at most max_series series. */
void series_registry_init(series_registry_t *r, size_t max_series);
/* Frees every series and the registry's storage. */
void series_registry_free(series_registry_t *r);

/* Finds or creates the series of a sample. Validates it: metric and tag keys/values non-empty
 * valid UTF-8 of at most 256 bytes, no duplicate tag keys, at most 64 tags, finite value.
 * Returns 0 and *out, IOC_EINVAL (with a reason in err) or IOC_EFULL (registry full). */
int series_intern(series_registry_t *r, const ioc_sample_t *s, series_t **out, char *err,
                  size_t errlen);

/* Writes the canonical tags JSON (sorted by key bytewise, compact, escaped) of tags into out.
 * Returns 0 or an ioc_err_t. Exposed for tests and for the store. */
int series_tags_json(const ioc_tag_t *tags, size_t ntags, char *out, size_t outlen);

#endif
