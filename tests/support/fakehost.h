/* A fake collector host for plugin tests: a real uv loop, every sample and log kept. */
#ifndef FAKEHOST_H
#define FAKEHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define FHOST_MAX_LOGS 4096

/* One recorded sample; strings are copied (the plugin's are only borrowed). */
typedef struct fhost_sample {
    char metric[128];
    char tags[1024]; /* every tag as "k=v,k=v" sorted by key, "" without tags */
    double value;
    int64_t ts_us;
} fhost_sample_t;

struct ioc_host {
    cJSON *config;           /* owned */
    fhost_sample_t *samples; /* owned */
    size_t nsamples, cap;
    size_t malformed;        /* emits that broke the ABI's rules */
    int done_calls, done_status;
    int closed;              /* times the `closed` callback of fhost_stop ran */
    char *logs[FHOST_MAX_LOGS]; /* "LEVEL line", owned */
    size_t nlogs;
    uv_loop_t loop;
};

/* The services table handed to plugins (ABI of this build). */
extern const ioc_host_services_t fhost_services;

/* Loads $IOCD_PLUGIN_DIR/<name>.so; fails the test with a clear message if it is missing.
 * Returns the plugin's descriptor (the library stays loaded). */
const ioc_collector_desc_t *fhost_load(const char *name);
/* Makes a host whose config is the JSON text `config` (fails the test if it is not JSON).
 * Free with fhost_free, which also closes its loop (fails the test if handles are still open). */
ioc_host_t *fhost_new(const char *config);
void fhost_free(ioc_host_t *h);
/* Inits an instance on h; fails the test with the plugin's message if init fails. Returns
 * the plugin's state. */
void *fhost_init(const ioc_collector_desc_t *desc, ioc_host_t *h);
/* A host for the config printf(fmt, ...) with an instance inited on it (*state); fails the
 * test if either fails. Free with fhost_finish. */
ioc_host_t *fhost_open(const ioc_collector_desc_t *desc, void **state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fails the test unless init refuses config with IOC_EINVAL and an error containing want
 * (and, when secret is not NULL, not containing secret). */
void fhost_config_error(const ioc_collector_desc_t *desc, const char *config, const char *want,
                        const char *secret);
/* Runs the loop until pred(h, arg) is true or timeout_ms passes; returns pred's last answer. */
bool fhost_run_until(ioc_host_t *h, bool (*pred)(ioc_host_t *h, const void *arg), const void *arg,
                     int timeout_ms);
/* Runs the loop for ms milliseconds. */
void fhost_run_for(ioc_host_t *h, int ms);
/* Predicates for fhost_run_until. */
bool fhost_has_samples(ioc_host_t *h, const void *n /* const size_t * */);
bool fhost_has_log(ioc_host_t *h, const void *needle /* const char * */);
/* Number of log lines containing needle. */
size_t fhost_count_logs(const ioc_host_t *h, const char *needle);
/* Prints every log line to stderr (for a failing test's context). */
void fhost_dump_logs(const ioc_host_t *h);
/* The first recorded sample of metric whose tags are exactly tags; NULL if none. */
const fhost_sample_t *fhost_find(const ioc_host_t *h, const char *metric, const char *tags);
/* Runs one collect, then the loop until collect_done (at most timeout_ms; with 0 the loop is
 * not run: the plugin must end the collection inside collect). Returns collect_done's status;
 * fails the test if it was not called exactly once. */
int fhost_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms);
/* Stops the instance and runs the loop until its `closed` callback ran; fails the test unless
 * it ran once within timeout_ms, with none of the plugin's handles or requests left. */
void fhost_stop(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms);
/* fhost_stop (5 s at most), then fhost_free. */
void fhost_finish(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h);

#endif
