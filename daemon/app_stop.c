/* Shutdown: collectors stopped, ingest drained, then every module closed in order. */
#include <stdio.h>

#include "alerts/alerts.h"
#include "app.h"
#include "auth/auth_store.h"
#include "core/log.h"
#include "engine/engine.h"
#include "hub/hub.h"
#include "reports/reports.h"

#define DRAIN_TIMEOUT_MS 5000

/* Shutdown, step by step: collectors stopped -> ingest drained -> web, store, spool closed ->
 * embedded cluster stopped -> signal handles closed, and the loop ends. */
static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void finish(app_t *app)
{
    ingest_free(app->ingest);
    app->ingest = NULL;
    uv_close((uv_handle_t *)&app->sig_term, on_handle_closed);
    uv_close((uv_handle_t *)&app->sig_int, on_handle_closed);
    uv_close((uv_handle_t *)&app->sig_hup, on_handle_closed);
    log_info("main", "event=stopped");
}

static void on_pgembed_stopped(void *ud) { finish(ud); }

static void on_spool_closed(void *ud)
{
    app_t *app = ud;
    if (app->pgembed)
        pgembed_stop(app->pgembed, on_pgembed_stopped, app);
    else
        finish(app);
}

static void on_store_closed(void *ud)
{
    app_t *app = ud;
    spool_close(app->spool, on_spool_closed, app);
}

static void on_engine_closed(void *ud)
{
    app_t *app = ud;
    app->engine = NULL;
    if (app->hub) {
        hub_close(app->hub, NULL, NULL); /* after the engine, which publishes until it closes */
        app->hub = NULL;
    }
    if (app->store)
        store_close(app->store, on_store_closed, app);
    else
        on_store_closed(app);
}

static void on_alerts_closed(void *ud)
{
    app_t *app = ud;
    app->alerts = NULL;
    if (app->engine)
        engine_close(app->engine, on_engine_closed, app); /* flushes the last rollups */
    else
        on_engine_closed(app);
}

/* Alerts close before the engine (its listener removed first) and the hub they publish to. */
static void on_auth_closed(void *ud)
{
    app_t *app = ud;
    if (app->engine)
        engine_set_listener(app->engine, NULL, NULL);
    if (app->alerts)
        alerts_close(app->alerts, on_alerts_closed, app);
    else
        on_alerts_closed(app);
}

static void on_web_closed(void *ud)
{
    app_t *app = ud;
    auth_store_t *auth = app->auth;
    app->auth = NULL;
    if (auth)
        auth_store_close(auth, on_auth_closed, app); /* no request can use it any more */
    else
        on_auth_closed(app);
}

static void on_drained(void *ud)
{
    app_t *app = ud;
    ingest_stats_t is;
    ingest_get_stats(app->ingest, &is);
    log_info("main", "event=drained committed=%llu spooled=%llu spool_bytes=%llu",
             (unsigned long long)is.samples_committed, (unsigned long long)is.samples_spooled,
             (unsigned long long)spool_bytes(app->spool));
    if (app->reports) { /* ends exports; frees itself once its worker threads are done */
        reports_close(app->reports, NULL, NULL);
        app->reports = NULL;
    }
    if (app->hub)
        hub_detach(app->hub);
    if (app->web)
        web_close(app->web, on_web_closed, app);
    else
        on_web_closed(app);
}

static void on_collectors_closed(void *ud)
{
    app_t *app = ud;
    app->collectors = NULL;
    ingest_drain(app->ingest, DRAIN_TIMEOUT_MS, on_drained, app);
}

void app_stop(app_t *app, const char *why)
{
    if (app->stopping)
        return;
    app->stopping = true;
    log_info("main", "event=stopping reason=%s", why);
    collectors_close(app->collectors, on_collectors_closed, app);
}
