/* A fake collector host for the mqtt plugin's tests: a real uv loop, every sample and log kept. */
#ifndef HELPER_FAKEHOST_H
#define HELPER_FAKEHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

#define FH_MAX_LOGS 4096

/* One recorded sample; strings are copied (the plugin's are only borrowed). */
typedef struct fh_sample {
    char metric[128];
    char tags[512]; /* "k=v,k=v" sorted by key, "" without tags */
    double value;
    int64_t ts_us;
} fh_sample_t;

struct ioc_host {
    cJSON *config;        /* owned */
    fh_sample_t *samples; /* owned */
    size_t nsamples, cap;
    size_t malformed;     /* emits that broke the ABI's rules */
    int done_calls, done_status;
    int closed;           /* the `closed` callback ran */
    char *logs[FH_MAX_LOGS]; /* "LEVEL line", owned */
    size_t nlogs;
    uv_loop_t loop;
};

/* The services table handed to plugins (ABI of this build). */
extern const ioc_host_services_t fh_services;

/* Loads $IOCD_PLUGIN_DIR/<name>.so; fails the test with a clear message if it is missing. */
const ioc_collector_desc_t *fh_load(const char *name);
/* Makes a host whose config is the JSON text `config` (NULL on a parse error); free with
 * fh_host_free, which also closes its loop (fails the test if handles are still open). */
struct ioc_host *fh_host_new(const char *config);
void fh_host_free(struct ioc_host *h);
/* Runs the loop until pred(h, arg) is true or timeout_ms passes; returns pred's last answer. */
bool fh_run_until(struct ioc_host *h, bool (*pred)(struct ioc_host *h, const void *arg),
                  const void *arg, int timeout_ms);
/* Runs the loop for ms milliseconds. */
void fh_run_for(struct ioc_host *h, int ms);
/* Predicates for fh_run_until. */
bool fh_has_samples(struct ioc_host *h, const void *n /* const size_t * */);
bool fh_has_log(struct ioc_host *h, const void *needle /* const char * */);
/* Number of log lines containing needle. */
size_t fh_count_logs(const struct ioc_host *h, const char *needle);
/* Runs one collect; returns collect_done's status (checks it was called exactly once). */
int fh_collect(const ioc_collector_desc_t *desc, void *state, struct ioc_host *h);

#endif
