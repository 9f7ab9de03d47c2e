/* A fake collector host on a real libuv loop for http_json plugin tests, and the local HTTP
 * server they poll. */
#ifndef HELPER_HOST_H
#define HELPER_HOST_H

#include <stdint.h>
#include <sys/types.h>

#include "helper_rec.h"

struct ioc_host {
    cJSON *config;       /* owned */
    uv_loop_t loop;
    int64_t now_us;      /* what services.now_us returns */
    rec_t rec;           /* every sample emitted (copied) */
    int emit_status;     /* what emit returns (IOC_OK unless a test says otherwise) */
    int done_calls;      /* collect_done calls since the last hh_collect */
    int done_status;
    int closed;          /* the `closed` callback ran */
    int after_stop;      /* services called after stop returned: must stay 0 */
    int stopped;
    int nlogs;
    char logs[8192];     /* every log line, '\n'-separated (truncated when full) */
};

extern const ioc_host_services_t hh_services;

/* Loads $IOCD_PLUGIN_DIR/http_json.so (fails the test if missing). */
const ioc_collector_desc_t *hh_load(void **handle);
/* A host whose config is `config` with every "$PORT" replaced by port. */
struct ioc_host *hh_new(const char *config, int port);
/* Stops the instance (if state) and frees the host after its handles are closed. */
void hh_free(const ioc_collector_desc_t *desc, void *state, struct ioc_host *h);
/* Runs one collect on the real loop until collect_done (at most timeout_ms; fails beyond).
 * Returns its status. Clears the recorded samples first. */
int hh_collect(const ioc_collector_desc_t *desc, void *state, struct ioc_host *h, int timeout_ms);
/* Runs the loop for ms milliseconds. */
void hh_run_for(struct ioc_host *h, int ms);

/* Starts fixture_server.py on a free port; returns its pid and sets *port. */
pid_t hh_server_start(int *port);
void hh_server_stop(pid_t pid);

#endif
