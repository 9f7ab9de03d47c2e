/* The daemon's top-level state: every module instance, owned by main. */
#ifndef IOCD_APP_H
#define IOCD_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "collect/collectors.h"
#include "config/config.h"
#include "ingest/ingest.h"
#include "store/pgembed.h"
#include "store/spool.h"
#include "store/store.h"
#include "web/web.h"

typedef struct app {
    uv_loop_t *loop;
    config_t *cfg;        /* current configuration (replaced on SIGHUP) */
    pgembed_t *pgembed;   /* NULL when database.dsn is set */
    store_t *store;       /* NULL until the database is known */
    spool_t *spool;
    ingest_t *ingest;
    collectors_t *collectors;
    struct engine *engine; /* indicators (daemon/engine/engine.h) */
    struct hub *hub;       /* live updates over /ws (daemon/hub/hub.h) */
    struct alerts *alerts; /* alert rules and alerts (daemon/alerts/alerts.h) */
    struct auth_store *auth; /* people, sessions, runtime tokens, audit (auth/auth_store.h) */
    struct reports *reports; /* exports and scheduled reports (daemon/reports/reports.h) */
    web_t *web;
    uv_signal_t sig_term, sig_int, sig_hup;
    int64_t started_us;
    bool stopping;
    int exit_code;
} app_t;

/* Starts every module in order (state_dir, spool, hub, engine, ingest, the database — embedded
 * or by DSN —, web and the API, auth, alerts, reports, collectors). Returns 0, or an ioc_err_t
 * with the reason logged; then call app_stop (if collectors exist) to unwind. */
int app_start(app_t *app);
/* Stops collecting, drains ingest (spooling what PostgreSQL cannot take within 5 s) and closes
 * every module in order, then the signal handles, so the loop ends. `why` is logged. Once only. */
void app_stop(app_t *app, const char *why);
/* Reads the configuration file again (SIGHUP) and applies collectors, alert rules and reports;
 * a file with any error is refused whole and the running configuration kept. */
void app_reload(app_t *app);
/* The plugin directory: plugin_dir from the config, else the build tree's or the installed one. */
const char *app_plugin_dir(const config_t *cfg);
/* Writes "file:line:column: collectors[i]: msg" for msg naming a collector instance ("collector
 * \"name\": ..."), or "file: msg" when it names none. */
void app_collector_error(const config_t *cfg, const char *msg, char *out, size_t outlen);

#endif
