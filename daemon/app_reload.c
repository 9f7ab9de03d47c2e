/* SIGHUP: the configuration file read again and applied where it can be, all or nothing. */
#include <string.h>

#include "alerts/alerts.h"
#include "app.h"
#include "core/log.h"
#include "engine/engine.h"
#include "reports/reports.h"

void app_reload(app_t *app)
{
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
        app_collector_error(ncfg, err, full, sizeof full);
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

