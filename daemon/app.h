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

#endif
