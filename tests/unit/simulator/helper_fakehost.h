/* A fake collector host for plugin tests: loads a .so, records what the plugin emits. */
#ifndef HELPER_FAKEHOST_H
#define HELPER_FAKEHOST_H

#include <stddef.h>
#include <stdint.h>

#include "ioc/collector.h"

/* One recorded sample; strings are copied (the plugin's are only borrowed). */
typedef struct fh_sample {
    char metric[48];
    char district[48]; /* "" when the sample has no district tag */
    char id[32];       /* "" when the sample has no id tag */
    double value;
    int64_t ts_us;
} fh_sample_t;

struct ioc_host {
    cJSON *config;    /* owned */
    int64_t now_us;   /* what services.now_us returns */
    int full_at_call; /* emit returns IOC_EFULL from this emit call on (1-based); 0 never */
    fh_sample_t *samples; /* this round's samples, owned */
    size_t nsamples, cap;
    size_t emit_calls;   /* this round */
    size_t max_chunk;    /* largest n passed to emit, ever */
    size_t malformed;    /* samples that broke the ABI's rules, ever */
    int done_calls;      /* collect_done calls this round */
    int done_status;
    int closed;          /* the `closed` callback ran */
    char last_log[512];
    uv_loop_t loop;
};

/* The services table handed to plugins (ABI of this build). */
extern const ioc_host_services_t fh_services;

/* Loads $IOCD_PLUGIN_DIR/<name>.so; fails the test with a clear message if it is missing.
 * Returns the descriptor; *handle gets the dlopen handle (dlclose it), path the file used. */
const ioc_collector_desc_t *fh_load(const char *name, void **handle, char *path, size_t pathlen);
/* Makes a host whose config is the JSON text `config`; returns NULL on a parse error.
 * Free with fh_host_free. */
struct ioc_host *fh_host_new(const char *config);
void fh_host_free(struct ioc_host *h);
/* Runs one collect at host time now_us; returns collect_done's status. Resets the round's
 * records first and checks collect_done was called exactly once. */
int fh_collect(const ioc_collector_desc_t *desc, void *state, struct ioc_host *h, int64_t now_us);
/* Returns the sum of `metric` over this round's samples, only those of `district` unless NULL. */
double fh_sum(const struct ioc_host *h, const char *metric, const char *district);
/* Returns the number of this round's samples named `metric`. */
size_t fh_count(const struct ioc_host *h, const char *metric);
/* Returns the sample of `metric` with tag id (or district, for per-district metrics), or NULL. */
const fh_sample_t *fh_find(const struct ioc_host *h, const char *metric, const char *key);

#endif
