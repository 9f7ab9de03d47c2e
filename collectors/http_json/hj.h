/* http_json collector: the types shared by its config, its JSON mapping and its HTTP poller. */
#ifndef HJ_H
#define HJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define HJ_MAX_URLS 64
#define HJ_MAX_METRICS 64
#define HJ_MAX_TAGS 16           /* configured tags; NGSI adds `id` */
#define HJ_MAX_NAME 256          /* bytes in a metric name, tag key or tag value (as ingest) */
#define HJ_DEFAULT_MAX_BODY (8u << 20)
#define HJ_MAX_MAX_BODY (1u << 30)
#define HJ_NUM_LEN 40             /* a number formatted as a tag value */

typedef enum hj_format {
    HJ_FORMAT_JSON = 0, /* generic: items, metrics, time, tags pointers */
    HJ_FORMAT_NGSI_V2,  /* FIWARE NGSI v2 entities, key-values or normalized */
    HJ_FORMAT_NGSI_LD   /* FIWARE NGSI-LD entities, normalized or concise */
} hj_format_t;

typedef struct hj_metric_map {
    const char *metric;      /* sample name */
    const char *value;       /* RFC 6901 pointer into the item */
    const cJSON *value_map;  /* {"text": number} or NULL */
} hj_metric_map_t;

typedef struct hj_tag_map {
    const char *key;  /* tag name */
    const char *ptr;  /* RFC 6901 pointer into the item (NGSI: the entity, attribute unwrapped) */
} hj_tag_map_t;

/* A checked mapping. Strings and cJSON nodes are borrowed from the instance config, which
 * outlives it. */
typedef struct hj_map_cfg {
    hj_format_t format;
    const char *items;       /* pointer to the array of items ("" = the document) */
    hj_metric_map_t metrics[HJ_MAX_METRICS];
    size_t nmetrics;
    const char *time;        /* pointer to the item's time, NULL for none (JSON format only) */
    hj_tag_map_t tags[HJ_MAX_TAGS];
    size_t ntags;
    const cJSON *value_map;  /* NGSI: {"attribute": {"text": number}} or NULL */
} hj_map_cfg_t;

/* What one mapping run saw. `first_skip` says why the first skipped item or value was skipped. */
typedef struct hj_map_stats {
    size_t items, samples, skipped;
    char first_skip[192];
} hj_map_stats_t;

/* Receives a chunk of samples (borrowed, valid during the call). Returns IOC_OK to go on,
 * anything else to stop the mapping with that code. */
typedef int (*hj_sink_fn)(void *ud, const ioc_sample_t *samples, size_t n);

/* The HTTP side of an instance's config; strings borrowed from the instance config. */
typedef struct hj_http_cfg {
    const char *urls[HJ_MAX_URLS];
    size_t nurls;
    const cJSON *headers;    /* {"Name": "value"} or NULL */
    const char *username, *password; /* basic auth, or NULL */
    const char *bearer;      /* bearer token, or NULL */
    bool tls_verify;
    const char *ca_file;     /* NULL: the system's CA store */
    size_t max_body;
    uint64_t timeout_ms;     /* whole request */
} hj_http_cfg_t;

/* hj_pointer.c: RFC 6901 JSON pointers, resolved without cJSON_Utils. */

/* Returns 0 if ptr is a valid pointer ("" or "/..." with ~ only before 0 or 1), else -1 with
 * *bad_off at the offending byte. */
int hj_pointer_check(const char *ptr, size_t *bad_off);
/* Consumes one reference token ("/tok") of *p and returns the matching child of node, or NULL
 * (no such member or index, not a container, or *p empty). Advances *p past the token. */
const cJSON *hj_pointer_step(const cJSON *node, const char **p);
/* Resolves ptr against root; returns the node (borrowed) or NULL. "" is root itself. */
const cJSON *hj_pointer_get(const cJSON *root, const char *ptr);

/* hj_time.c: observation times. */

/* Parses ISO 8601 (date, or date and time with optional fraction and zone; no zone = UTC;
 * "start/end" intervals give the end) into µs since the epoch. Returns 0 or -1. */
int hj_time_parse_iso(const char *s, int64_t *us_out);
/* Converts epoch seconds, or milliseconds for magnitudes >= 1e11, into µs. Returns 0 or -1. */
int hj_time_from_epoch(double v, int64_t *us_out);
/* Reads a time from a node: an ISO string, an epoch number, or an NGSI-LD {"@value": ...}.
 * Returns 0 or -1. */
int hj_time_from_node(const cJSON *node, int64_t *us_out);

/* hj_map_config.c */

/* Reads the mapping keys (format, items, metrics, time, tags, value_map) of obj into cfg;
 * other keys are not looked at. Returns IOC_OK or IOC_EINVAL with err naming the key. */
int hj_map_config_parse(const cJSON *obj, hj_map_cfg_t *cfg, char *err, size_t errlen);

/* hj_map.c: JSON text to samples, no I/O. */

/* Maps the JSON text (len bytes, text[len] must be '\0') to samples handed to sink in chunks;
 * default_ts_us stamps samples without a time of their own. Returns IOC_OK; IOC_EINVAL for a
 * document that is not JSON or has no items where cfg says (err names the line and column, or
 * the pointer); IOC_ENOMEM; or the code the sink stopped with. Items and values that cannot be
 * mapped are skipped and counted in st. */
int hj_map(const hj_map_cfg_t *cfg, const char *text, size_t len, int64_t default_ts_us,
           hj_sink_fn sink, void *ud, hj_map_stats_t *st, char *err, size_t errlen);

/* hj_ngsi.c (used by hj_map) */

typedef struct hj_emitter hj_emitter_t;
/* Maps one NGSI entity into samples through em. Returns IOC_OK (the entity may have been
 * skipped and counted) or the sink's error. */
int hj_ngsi_entity(const hj_map_cfg_t *cfg, const cJSON *ent, size_t index, hj_emitter_t *em);

/* hj_emit.c: bounded chunks of samples with their strings. */

/* Starts a chunked hand-over to sink. Returns NULL when out of memory; free with hj_emit_free. */
hj_emitter_t *hj_emit_new(hj_sink_fn sink, void *ud, int64_t default_ts_us, hj_map_stats_t *st);
void hj_emit_free(hj_emitter_t *em);
/* The timestamp for samples without their own time. */
int64_t hj_emit_default_ts(const hj_emitter_t *em);
/* Formats a JSON scalar (string, number, bool) as a tag value: the string itself (borrowed)
 * or buf. Returns NULL if the node is none of these, or empty, too long or not UTF-8. */
const char *hj_tag_value(const cJSON *node, char buf[HJ_NUM_LEN]);
/* Adds one sample, copying its metric and tag values (tag keys must outlive the emitter);
 * flushes first when the chunk is full. Returns IOC_OK or the sink's error (sticky). */
int hj_emit_add(hj_emitter_t *em, const char *metric, const ioc_tag_t *tags, size_t ntags,
                double value, int64_t ts_us);
/* Hands the pending samples to the sink. Returns IOC_OK or the sink's error (sticky). */
int hj_emit_flush(hj_emitter_t *em);
/* Counts one skipped item or value; the first reason is kept in the stats (printf-style). */
void hj_emit_skip(hj_emitter_t *em, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns 1 if s (n bytes) is non-empty, at most HJ_MAX_NAME bytes and valid UTF-8. */
int hj_name_ok(const char *s, size_t n);

/* hj_config.c */

/* Checks the whole instance config: HTTP keys into http, mapping keys into map, unknown keys
 * refused. warn gets a warning to log ("" for none). Returns IOC_OK or IOC_EINVAL (err names
 * the key). */
int hj_config_parse(const cJSON *obj, hj_http_cfg_t *http, hj_map_cfg_t *map, char *warn,
                    size_t warnlen, char *err, size_t errlen);

/* hj_job.c: mapping on the libuv threadpool. */

typedef struct hj_job hj_job_t;
typedef struct hj_job_result {
    int status;           /* hj_map's, or IOC_ETOOBIG when the samples outgrew max_packed */
    char err[256];
    hj_map_stats_t st;
    size_t idx;           /* as given to hj_job_start */
    uint64_t round;
} hj_job_result_t;
/* Called on the loop when a job's mapping is done; the callee frees the job (hj_job_free). */
typedef void (*hj_job_done_fn)(void *ud, hj_job_t *job);
/* Maps body (malloc'd, NUL-terminated at len; ownership taken, even on error) with cfg on the
 * threadpool, keeping at most max_packed bytes of samples; then calls done on the loop. cfg
 * must stay valid until then. Returns IOC_OK, or IOC_ENOMEM/IOC_EIO (done is not called). */
int hj_job_start(uv_loop_t *loop, const hj_map_cfg_t *cfg, char *body, size_t len,
                 int64_t now_us, size_t max_packed, size_t idx, uint64_t round,
                 hj_job_done_fn done, void *ud);
/* The job's outcome (valid until hj_job_free). */
const hj_job_result_t *hj_job_result(const hj_job_t *job);
/* Hands the job's samples to sink in chunks, on the loop. Returns IOC_OK or the sink's error. */
int hj_job_emit(hj_job_t *job, hj_sink_fn sink, void *ud);
void hj_job_free(hj_job_t *job);

/* hj_http.c: libcurl multi on the libuv loop. */

typedef struct hj_http hj_http_t;
/* Called on the loop when the GET of urls[idx] ends: status IOC_OK (2xx), IOC_EIO, IOC_ETIMEDOUT
 * or IOC_ETOOBIG with msg saying why. body (len bytes, NUL-terminated) is malloc'd and the
 * callee's to free; NULL when nothing was received. */
typedef void (*hj_http_done_fn)(void *ud, size_t idx, int status, char *body, size_t len,
                                const char *msg);
/* Creates the poller on loop (cfg is borrowed and must outlive it). Returns IOC_OK or an error
 * with err set. */
int hj_http_new(uv_loop_t *loop, const hj_http_cfg_t *cfg, hj_http_done_fn done, void *ud,
                hj_http_t **out, char *err, size_t errlen);
/* Starts the GET of cfg->urls[idx]. Returns IOC_OK or IOC_ENOMEM/IOC_EIO (done not called). */
int hj_http_get(hj_http_t *h, size_t idx);
/* Drops every transfer in progress; their done callbacks are not called. */
void hj_http_abort(hj_http_t *h);
/* Aborts, then frees the poller once its libuv handles are closed and calls closed(ud). */
void hj_http_close(hj_http_t *h, void (*closed)(void *ud), void *ud);

#endif
