/* A fake collector host for the probe plugin's tests: a real uv loop, every sample and log kept. */
#ifndef HELPER_HOST_H
#define HELPER_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define PH_MAX_LOGS 256

/* One recorded sample; strings are copied (the plugin's are only borrowed). */
typedef struct ph_sample {
    char metric[64];
    char tags[512]; /* "k=v,k=v" sorted by key */
    double value;
    int64_t ts_us;
} ph_sample_t;

struct ioc_host {
    cJSON *config;           /* owned */
    ph_sample_t *samples;    /* owned */
    size_t nsamples, cap;
    size_t malformed;        /* emits that broke the ABI's rules */
    int done_calls, done_status;
    int closed;              /* the `closed` callback ran */
    char *logs[PH_MAX_LOGS]; /* "LEVEL line", owned */
    size_t nlogs;
    uv_loop_t loop;
};

/* The services table handed to plugins (ABI of this build). */
extern const ioc_host_services_t ph_services;

/* Loads $IOCD_PLUGIN_DIR/probe.so; fails the test with a clear message if it is missing. */
const ioc_collector_desc_t *ph_load(void);
/* Makes a host whose config is the JSON text (fails the test on a parse error); free with
 * ph_host_free, which also closes its loop (fails the test if handles are still open). */
ioc_host_t *ph_host_new(const char *config);
void ph_host_free(ioc_host_t *h);
/* Inits an instance on h; fails the test with the plugin's message if init fails. */
void *ph_init(const ioc_collector_desc_t *desc, ioc_host_t *h);
/* Stops the instance and runs the loop until `closed` has been called (fails after 30 s). */
void ph_stop(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h);
/* Clears the recorded samples and runs one collect until collect_done (fails after
 * timeout_ms). Returns collect_done's status; *elapsed_ms (may be NULL) gets the round time. */
int ph_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms,
               double *elapsed_ms);
/* The recorded sample of metric whose tags contain "target=<target>," or end with it; NULL if
 * none. Fails the test if there are several. */
const ph_sample_t *ph_find(const ioc_host_t *h, const char *metric, const char *target);
/* Number of log lines containing needle. */
size_t ph_count_logs(const ioc_host_t *h, const char *needle);

#endif
