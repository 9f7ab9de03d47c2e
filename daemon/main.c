/* iocd: the command line (run, --check-config, --bootstrap-admin) and the signals. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "alerts/alerts.h"
#include "app.h"
#include "auth/auth_bootstrap.h"
#include "core/log.h"
#include "engine/engine.h"
#include "reports/reports.h"

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
    int rc = collectors_create(&loop, app_plugin_dir(cfg), NULL, &c);
    if (rc == 0) {
        rc = collectors_validate(c, cfg, err, sizeof err);
        if (rc) {
            char full[1200];
            app_collector_error(cfg, err, full, sizeof full);
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

static void on_stop_signal(uv_signal_t *s, int signum)
{
    app_stop(s->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_hup(uv_signal_t *s, int signum)
{
    (void)signum;
    app_reload(s->data);
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
    if (app_start(&app)) {
        log_error("main", "event=start_failed");
        app.exit_code = 1;
        if (app.collectors)
            app_stop(&app, "start_failed");
        else
            uv_stop(app.loop);
    }
    uv_run(app.loop, UV_RUN_DEFAULT);
    config_free(app.cfg);
    return app.exit_code;
}
