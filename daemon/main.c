/* iocd: command line, start-up order, signals (SIGTERM drain, SIGHUP reload) and shutdown. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "alerts/alerts.h"
#include "api/api.h"
#include "app.h"
#include "auth/auth_bootstrap.h"
#include "auth/auth_store.h"
#include "collect/plugin.h"
#include "core/log.h"
#include "engine/engine.h"
#include "hub/hub.h"
#include "reports/reports.h"

#define DRAIN_TIMEOUT_MS 5000

static const char usage[] =
    "usage: iocd --config FILE [--check-config | --bootstrap-admin NAME]\n"
    "       iocd --version | --help\n"
    "\n"
    "  -c, --config FILE   configuration file (JSON, comments allowed); see config/README.md\n"
    "      --check-config  validate the configuration (and load its plugins), print the first\n"
    "                      error as file:line:column: key: message, exit 0 if valid\n"
    "      --bootstrap-admin NAME  create the first admin (password from\n"
    "                      IOCD_BOOTSTRAP_PASSWORD or stdin); refused if an admin exists\n"
    "  -V, --version       print the version\n"
    "  -h, --help          print this help\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop collecting, flush or spool everything and exit 0;\n"
    "SIGHUP reloads the configuration (collectors) without dropping connections.\n"
    "Environment: IOCD_DATABASE_DSN overrides database.dsn.\n";

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

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

static const char *plugin_dir(const config_t *cfg)
{
    return cfg->plugin_dir ? cfg->plugin_dir : plugin_default_dir();
}

/* Prefixes a collector error with the config position of its entry. */
static void collector_error(const config_t *cfg, const char *msg, char *out, size_t outlen)
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

static void on_check_closed(void *ud) { (void)ud; }

/* --check-config: validates the file, then loads and initialises (without starting) every
 * collector so plugin options are checked too. Returns the exit code. */
static int check_config(const char *path)
{
    char err[1024];
    config_t *cfg;
    if (config_load(path, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (engine_check_config(cfg, err, sizeof err) || alerts_check_config(cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        config_free(cfg);
        return 1;
    }
    if (reports_check_config(cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        config_free(cfg);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    collectors_t *c;
    int rc = collectors_create(&loop, plugin_dir(cfg), NULL, &c);
    if (rc == 0) {
        rc = collectors_validate(c, cfg, err, sizeof err);
        if (rc) {
            char full[1200];
            collector_error(cfg, err, full, sizeof full);
            fprintf(stderr, "%s\n", full);
        }
        collectors_close(c, on_check_closed, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc == 0)
        printf("%s: ok\n", path);
    config_free(cfg);
    return rc ? 1 : 0;
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

static void on_stop_signal(uv_signal_t *s, int signum)
{
    app_t *app = s->data;
    if (app->stopping)
        return;
    app->stopping = true;
    log_info("main", "event=stopping signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    collectors_close(app->collectors, on_collectors_closed, app);
}

static void on_hup(uv_signal_t *s, int signum)
{
    (void)signum;
    app_t *app = s->data;
    if (app->stopping)
        return;
    char err[1024];
    config_t *ncfg;
    if (config_load(app->cfg->path, &ncfg, err, sizeof err)) {
        log_error("main", "event=reload_refused reason=config error=\"%s\"", err);
        return;
    }
    if (engine_check_config(ncfg, err, sizeof err)) {
        log_error("main", "event=reload_refused reason=indicators error=\"%s\"", err);
        config_free(ncfg);
        return;
    }
    if (alerts_check_config(ncfg, err, sizeof err)) {
        log_error("main", "event=reload_refused reason=alerts error=\"%s\"", err);
        config_free(ncfg);
        return;
    }
    if (reports_check_config(ncfg, err, sizeof err)) {
        log_error("main", "event=reload_refused reason=reports error=\"%s\"", err);
        config_free(ncfg);
        return;
    }
    if (collectors_apply(app->collectors, ncfg, err, sizeof err)) {
        char full[1200];
        collector_error(ncfg, err, full, sizeof full);
        log_error("main", "event=reload_refused reason=collector error=\"%s\"", full);
        config_free(ncfg);
        return;
    }
    if (strcmp(ncfg->http_host, app->cfg->http_host) || ncfg->http_port != app->cfg->http_port ||
        strcmp(ncfg->state_dir, app->cfg->state_dir) ||
        (ncfg->db_dsn ? !app->cfg->db_dsn || strcmp(ncfg->db_dsn, app->cfg->db_dsn)
                      : app->cfg->db_dsn != NULL))
        log_warn("main", "event=reload_partial detail=\"http, state_dir and database changes "
                         "take effect at the next restart\"");
    reports_apply(app->reports, ncfg);
    if (app->alerts)
        alerts_apply_config(app->alerts, ncfg);
    config_free(app->cfg);
    app->cfg = ncfg;
    log_info("main", "event=reloaded collectors=%zu", collectors_count(app->collectors));
}

/* Every accepted sample goes to the engine. */
static void on_sample(void *ud, const series_t *se, int64_t ts_us, double value)
{
    engine_on_sample(ud, se, ts_us, value);
}

static int start(app_t *app)
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
    if ((rc = collectors_create(app->loop, plugin_dir(cfg), app->ingest, &app->collectors)))
        return rc;
    if ((rc = collectors_apply(app->collectors, cfg, err, sizeof err))) {
        char full[1200];
        collector_error(cfg, err, full, sizeof full);
        log_error("main", "event=collectors_failed error=\"%s\"", full);
        return rc;
    }
    return IOC_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"bootstrap-admin", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *bootstrap = NULL;
    bool check = false;
    int o;
    while ((o = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'k': check = true; break;
        case 'b': bootstrap = optarg; break;
        case 'V': printf("iocd %s\n", IOCD_VERSION); return 0;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!config_path || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "iocd: libsodium failed to initialise\n");
        return 1;
    }
    if (check)
        return check_config(config_path);
    if (bootstrap) {
        char berr[1024];
        config_t *bcfg;
        if (config_load(config_path, &bcfg, berr, sizeof berr)) {
            fprintf(stderr, "%s\n", berr);
            return 1;
        }
        int brc = auth_bootstrap_run(bcfg, bootstrap);
        config_free(bcfg);
        return brc;
    }

    app_t app = {.loop = uv_default_loop(), .started_us = wall_us()};
    char err[1024];
    if (config_load(config_path, &app.cfg, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int lvl = log_level_parse(app.cfg->log_level);
    log_set_level(lvl < 0 ? IOC_LOG_INFO : (ioc_log_level_t)lvl);
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(app.loop, &app.sig_term);
    uv_signal_init(app.loop, &app.sig_int);
    uv_signal_init(app.loop, &app.sig_hup);
    app.sig_term.data = app.sig_int.data = app.sig_hup.data = &app;
    uv_signal_start(&app.sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&app.sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&app.sig_hup, on_hup, SIGHUP);
    log_info("main", "event=starting version=%s config=\"%s\" pid=%d", IOCD_VERSION, config_path,
             (int)getpid());
    if (start(&app)) {
        log_error("main", "event=start_failed");
        app.exit_code = 1;
        if (app.collectors)
            on_stop_signal(&app.sig_term, SIGTERM);
        else
            uv_stop(app.loop);
    }
    uv_run(app.loop, UV_RUN_DEFAULT);
    config_free(app.cfg);
    return app.exit_code;
}
