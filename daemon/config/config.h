/* Configuration: one JSON file, validated up front into a checked struct. */
#ifndef IOCD_CONFIG_H
#define IOCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct config_token {
    char *name;
    char *role;       /* viewer, operator, analyst, admin, writer */
    uint8_t sha256[32];
} config_token_t;

typedef struct config_collector {
    char *plugin;          /* plugin name: loads <plugin_dir>/<plugin>.so */
    char *name;            /* instance name, unique */
    uint64_t interval_ms;  /* default 10s */
    uint64_t timeout_ms;   /* default: the interval, at most 60s */
    bool enabled;          /* default true */
    cJSON *json;           /* the whole entry (owned), handed to the plugin */
    int line, column;      /* where the entry starts in the file */
} config_collector_t;

typedef struct config {
    char *path;             /* the file it came from */
    char *state_dir;        /* default "./state" relative to the working directory */
    char *db_dsn;           /* NULL: embedded cluster; IOCD_DATABASE_DSN overrides */
    char *http_host;        /* default "127.0.0.1" */
    int http_port;          /* default 8080 */
    char *tls_cert, *tls_key; /* both or neither */
    bool tls_redirect_http; /* http.tls.redirect_http: plain HTTP on the TLS port is redirected */
    char *dashboards_dir;   /* http.dashboards; NULL: found next to the binary */
    char *frame_ancestors;  /* http.frame_ancestors: who may frame the dashboards; NULL: nobody */
    char *plugin_dir;       /* top-level plugin_dir; NULL: found next to the binary */
    char *log_level;        /* "error" | "warn" | "info" | "debug" (default info) */

    char *anonymous_role;   /* auth.anonymous_role; NULL: no anonymous access */
    uint64_t session_ttl_ms; /* auth.session_ttl, default 12h */
    config_token_t *tokens;
    size_t ntokens;

    config_collector_t *collectors;
    size_t ncollectors;

    /* ingest */
    uint32_t batch_max_samples;  /* ingest.batch_max_samples, default 20000 */
    uint64_t batch_max_delay_ms; /* ingest.batch_max_delay, default 200ms */
    uint32_t queue_max_batches;  /* ingest.queue_max_batches, default 16 */
    uint32_t max_series;         /* ingest.max_series, default 1000000 */
    uint64_t spool_max_bytes;    /* spool.max_bytes, default 1 GiB ("1GiB", "500MB", or a number) */

    uint64_t retention_raw_ms;   /* retention.raw, default 90d; 0 = forever */

    /* Sections owned by later modules: validated there with config_locate(); owned here. */
    cJSON *indicators, *alerts, *reports;

    cJSON *root;  /* the parsed document (owned) */
    char *text;   /* the file contents (owned), for config_locate */
} config_t;

/* Loads and validates a config file. On success returns 0 and *out (free with config_free).
 * On failure returns a negative ioc_err_t and writes "file:line:column: key.path: what is
 * wrong" into err. Line and block comments (// and slash-star) are allowed in the file. */
int config_load(const char *path, config_t **out, char *err, size_t errlen);
/* Same as config_load with the text given (name is used in messages). */
int config_parse(const char *name, const char *text, size_t len, config_t **out, char *err,
                 size_t errlen);
/* Frees a config and all it owns. NULL is fine. */
void config_free(config_t *cfg);

/* Finds where a key path such as "collectors[2].interval" appears in the file; returns 0 and
 * fills line/column (1-based) or IOC_ENOTFOUND. For modules validating their own sections. */
int config_locate(const config_t *cfg, const char *key_path, int *line, int *column);

/* Parses a duration such as "500ms", "10s", "5m", "1h", "7d" into milliseconds.
 * Returns 0 or IOC_EINVAL. */
int config_parse_duration(const char *s, uint64_t *ms_out);
/* Parses a size such as "512MB", "1GiB", "4096" into bytes. Returns 0 or IOC_EINVAL. */
int config_parse_size(const char *s, uint64_t *bytes_out);

#endif
