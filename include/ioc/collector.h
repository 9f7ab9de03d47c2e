/* The collector plugin ABI: the only header a collector plugin needs. */
#ifndef IOC_COLLECTOR_H
#define IOC_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "ioc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the structs below. The host refuses other versions. */
#define IOC_COLLECTOR_ABI_VERSION 1u
/* First word of every descriptor: "IOCC" in ASCII, so a random symbol is not taken for one. */
#define IOC_COLLECTOR_MAGIC 0x494f4343u
/* The one symbol a plugin exports: `const ioc_collector_desc_t ioc_collector;` */
#define IOC_COLLECTOR_SYMBOL "ioc_collector"

/* Makes the descriptor the plugin's only visible symbol (build with -fvisibility=hidden). */
#define IOC_COLLECTOR_EXPORT __attribute__((visibility("default")))

typedef struct ioc_tag {
    const char *key;   /* UTF-8, non-empty */
    const char *value; /* UTF-8, non-empty */
} ioc_tag_t;

/* One measurement. Strings are borrowed: the host copies what it keeps before emit returns. */
typedef struct ioc_sample {
    const char *metric;     /* e.g. "traffic.speed" */
    const ioc_tag_t *tags;  /* any order; the host sorts them */
    size_t ntags;
    double value;
    int64_t ts_us;          /* microseconds since the Unix epoch; 0 means "now" */
} ioc_sample_t;

typedef enum ioc_log_level {
    IOC_LOG_ERROR = 0,
    IOC_LOG_WARN = 1,
    IOC_LOG_INFO = 2,
    IOC_LOG_DEBUG = 3
} ioc_log_level_t;

/* The host's handle for one collector instance; opaque to plugins. */
typedef struct ioc_host ioc_host_t;

/* Services the host hands to a plugin instance. Valid from init until stop returns.
 * Every function must be called on the loop thread; a plugin that works on its own threads
 * hands results back with a uv_async_t on the loop it gets from `loop`. */
typedef struct ioc_host_services {
    uint32_t abi_version; /* IOC_COLLECTOR_ABI_VERSION of the host */
    uint32_t size;        /* sizeof(ioc_host_services_t) of the host */

    /* Logs one line tagged with the instance name. `fmt` should read as key=value pairs. */
    void (*log)(ioc_host_t *host, ioc_log_level_t level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Hands samples to ingest. Returns IOC_OK, or IOC_EFULL when ingest cannot take them
     * (they are counted as dropped by the host) or IOC_EINVAL for a malformed sample. */
    int (*emit)(ioc_host_t *host, const ioc_sample_t *samples, size_t n);
    /* Ends the collection started by the last `collect` call: status IOC_OK or an error.
     * May be called from inside `collect` (synchronous plugins) or later (asynchronous ones). */
    void (*collect_done)(ioc_host_t *host, int status);
    /* The daemon's event loop. Handles a plugin opens on it must be closed in `stop`. */
    uv_loop_t *(*loop)(ioc_host_t *host);
    /* The instance's configuration object (the whole entry of `collectors`), read-only. */
    const cJSON *(*config)(ioc_host_t *host);
    /* The instance name from the config (`name`). */
    const char *(*name)(ioc_host_t *host);
    /* Current wall-clock time in microseconds since the epoch. */
    int64_t (*now_us)(ioc_host_t *host);

    void *spare[8]; /* room to grow without breaking ABI 1 */
} ioc_host_services_t;

/* The descriptor a plugin exports as `ioc_collector`. */
typedef struct ioc_collector_desc {
    uint32_t magic;       /* IOC_COLLECTOR_MAGIC */
    uint32_t abi_version; /* IOC_COLLECTOR_ABI_VERSION the plugin was built against */
    const char *name;     /* plugin name as used in config `plugin` */
    const char *version;  /* the plugin's own version string */

    /* Validates the instance config and allocates state (*state_out, owned by the plugin).
     * On error returns a negative code and writes a message into err (errlen bytes) that
     * names the offending key. */
    int (*init)(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                char *err, size_t errlen);
    /* Called once after init, before the first collect. May be NULL. */
    int (*start)(void *state);
    /* Called every interval. Must not block. Ends with svc->collect_done(host, status).
     * NULL for push-style plugins (e.g. a subscriber) that emit whenever data arrives. */
    void (*collect)(void *state);
    /* Stops the instance: cancels work, closes handles, frees state. After `stop` returns the
     * plugin must not call any service again; handles may still be closing on the loop and
     * `closed` is called once they are all gone (may be called from within stop). */
    void (*stop)(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host);

    void *spare[8]; /* room to grow without breaking ABI 1 */
} ioc_collector_desc_t;

#ifdef __cplusplus
}
#endif

#endif
