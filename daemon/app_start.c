/* Start-up: every module created and wired in order, the database found or started. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/alerts.h"
#include "api/api.h"
#include "app.h"
#include "auth/auth_store.h"
#include "collect/plugin.h"
#include "core/log.h"
#include "engine/engine.h"
#include "hub/hub.h"
#include "reports/reports.h"

/* mkdir -p with mode 0700 for the last component. */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Finds dashboards/: http.dashboards, else installed next to the binary, else the source tree. */
static const char *dashboards_dir(const config_t *cfg)
{
    static char dir[PATH_MAX + 64];
    struct stat st;
    if (cfg->dashboards_dir)
        return cfg->dashboards_dir;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(dir, sizeof dir, "%s/../share/iocd/dashboards", exe);
            if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                return dir;
        }
    }
    snprintf(dir, sizeof dir, "%s/dashboards", IOCD_SOURCE_DIR);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return dir;
    return IOCD_INSTALL_DASHBOARD_DIR;
}

const char *app_plugin_dir(const config_t *cfg)
{
    return cfg->plugin_dir ? cfg->plugin_dir : plugin_default_dir();
}

void app_collector_error(const config_t *cfg, const char *msg, char *out, size_t outlen)
{
    int line = 0, col = 0;
    const char *q = strstr(msg, "collector \"");
    for (size_t i = 0; q && i < cfg->ncollectors; i++) {
        char key[64];
        if (strncmp(q + 11, cfg->collectors[i].name, strlen(cfg->collectors[i].name)) == 0 &&
            q[11 + strlen(cfg->collectors[i].name)] == '"') {
            snprintf(key, sizeof key, "collectors[%zu]", i);
            config_locate(cfg, key, &line, &col);
            snprintf(out, outlen, "%s:%d:%d: collectors[%zu]: %s", cfg->path, line, col, i, msg);
            return;
        }
    }
    snprintf(out, outlen, "%s: %s", cfg->path, msg);
}

static void on_store_state(void *ud, bool up)
{
    app_t *app = ud;
    log_info("main", "event=database_%s", up ? "up" : "down");
    if (app->ingest)
        ingest_store_state(app->ingest, up);
}

/* A session or runtime token ended: its live sockets close. */
static void on_revoke(void *ud, uint64_t principal)
{
    app_t *app = ud;
    if (app->hub)
        hub_close_principal(app->hub, principal);
}

static int open_store(app_t *app, const char *dsn)
{
    store_opts_t so = {
        .dsn = dsn,
        .retention_raw_ms = app->cfg->retention_raw_ms,
        .on_state = on_store_state,
        .ud = app,
    };
    int rc = store_create(app->loop, &so, &app->store);
    if (rc) {
        log_error("main", "event=store_failed error=\"%s\"", ioc_strerror(rc));
        return rc;
    }
    ingest_set_store(app->ingest, app->store);
    engine_set_dsn(app->engine, dsn);
    alerts_set_dsn(app->alerts, dsn);
    if (app->reports)
        reports_set_dsn(app->reports, dsn);
    auth_opts_t ao = {.dsn = dsn, .session_ttl_ms = app->cfg->session_ttl_ms,
                      .secure_cookie = app->cfg->tls_cert != NULL};
    if ((rc = auth_store_create(app->loop, &ao, &app->auth)))
        return rc;
    auth_store_on_revoke(app->auth, on_revoke, app);
    return IOC_OK;
}

static void on_pgembed_ready(void *ud, int status, const char *dsn)
{
    app_t *app = ud;
    if (app->stopping)
        return;
    if (status) {
        log_error("main", "event=embedded_db_failed error=\"%s\" action=spool_only",
                  ioc_strerror(status));
        return;
    }
    open_store(app, dsn);
}

/* Every accepted sample goes to the engine. */
static void on_sample(void *ud, const series_t *se, int64_t ts_us, double value)
{
    engine_on_sample(ud, se, ts_us, value);
}

int app_start(app_t *app)
{
    char path[PATH_MAX];
    config_t *cfg = app->cfg;
    int rc;
    if (make_dirs(cfg->state_dir)) {
        log_error("main", "event=state_dir_failed path=\"%s\" error=\"%s\"", cfg->state_dir,
                  strerror(errno));
        return IOC_EIO;
    }
    char idmsg[512];
    if ((rc = batch_id_init(cfg->state_dir, idmsg, sizeof idmsg))) {
        log_error("main", "event=batch_id_failed error=\"%s\"", idmsg);
        return rc;
    }
    snprintf(path, sizeof path, "%s/spool", cfg->state_dir);
    spool_opts_t so = {.dir = path, .max_bytes = cfg->spool_max_bytes};
    if ((rc = spool_open(app->loop, &so, &app->spool))) {
        log_error("main", "event=spool_failed dir=\"%s\" error=\"%s\"", path, ioc_strerror(rc));
        return rc;
    }
    char err[1024];
    if ((rc = hub_create(app->loop, NULL, &app->hub)))
        return rc;
    if ((rc = engine_create(app->loop, cfg, app->hub, &app->engine, err, sizeof err))) {
        log_error("main", "event=engine_failed error=\"%s\"", err);
        return rc;
    }
    if ((rc = alerts_create(app->loop, cfg, app->hub, &app->alerts, err, sizeof err))) {
        log_error("main", "event=alerts_failed error=\"%s\"", err);
        return rc;
    }
    engine_set_listener(app->engine, alerts_on_value, app->alerts);
    reports_opts_t ro = {.tmp_dir = cfg->state_dir};
    if ((rc = reports_create(app->loop, cfg, &ro, &app->reports, err, sizeof err))) {
        log_error("main", "event=reports_failed error=\"%s\"", err);
        return rc;
    }
    ingest_opts_t io = {
        .batch_max_samples = cfg->batch_max_samples,
        .batch_max_delay_ms = cfg->batch_max_delay_ms,
        .queue_max_batches = cfg->queue_max_batches,
        .max_series = cfg->max_series,
        .spool = app->spool,
        .on_sample = on_sample,
        .on_sample_ud = app->engine,
    };
    if ((rc = ingest_create(app->loop, &io, &app->ingest)))
        return rc;
    if (cfg->db_dsn) {
        if ((rc = open_store(app, cfg->db_dsn)))
            return rc;
    } else if ((rc = pgembed_start(app->loop, cfg->state_dir, on_pgembed_ready, app,
                                   &app->pgembed))) {
        log_error("main", "event=embedded_db_failed error=\"%s\" action=spool_only",
                  ioc_strerror(rc));
    }
    web_opts_t wo = {
        .host = cfg->http_host,
        .port = cfg->http_port,
        .static_dir = dashboards_dir(cfg),
        .tls_cert = cfg->tls_cert,
        .tls_key = cfg->tls_key,
        .tls_redirect_http = cfg->tls_redirect_http,
        .frame_ancestors = cfg->frame_ancestors,
    };
    if ((rc = web_create(app->loop, &wo, &app->web)))
        return rc;
    if ((rc = hub_attach(app->hub, app->web, &app->cfg)))
        return rc;
    if ((rc = api_health_register(app)) || (rc = api_write_register(app)) ||
        (rc = api_indicators_register(app)) ||
        (rc = api_alerts_register(app)) || (rc = api_export_register(app)) ||
        (rc = api_session_register(app)) || (rc = api_users_register(app)) ||
        (rc = api_tokens_register(app)) || (rc = api_audit_register(app)))
        return rc;
    log_info("main", "event=listening url=%s://%s:%d/ dashboards=\"%s\"",
             cfg->tls_cert ? "https" : "http", cfg->http_host, web_port(app->web), wo.static_dir);
    /* The one line a person starting iocd by hand looks for (logs go to stderr). */
    printf("iocd %s: dashboard at %s://%s:%d/\n", IOCD_VERSION, cfg->tls_cert ? "https" : "http",
           cfg->http_host, web_port(app->web));
    fflush(stdout);
    if ((rc = collectors_create(app->loop, app_plugin_dir(cfg), app->ingest, &app->collectors)))
        return rc;
    if ((rc = collectors_apply(app->collectors, cfg, err, sizeof err))) {
        char full[1200];
        app_collector_error(cfg, err, full, sizeof full);
        log_error("main", "event=collectors_failed error=\"%s\"", full);
        return rc;
    }
    return IOC_OK;
}

