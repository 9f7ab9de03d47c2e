/* Alerts: rules over indicator values (from the config file and the API, stored in PostgreSQL),
 * the alert lifecycle per rule and group, history, and notifications (live on the hub's
 * "alerts" topic, webhooks). */
#ifndef IOCD_ALERTS_H
#define IOCD_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config/config.h"
#include "hub/hub.h"

typedef struct alerts alerts_t;

/* Validates cfg->alerts (an array of rules, each with an "id") against cfg->indicators; errors
 * as "file:line:column: alerts[i].field: what is wrong". Returns 0 or IOC_EINVAL/IOC_ENOMEM. */
int alerts_check_config(const config_t *cfg, char *err, size_t errlen);
/* Creates the module with the config's rules; events go to hub (may be NULL), which also gets
 * the "alerts" snapshot provider. Returns 0 or an ioc_err_t with the message in err. */
int alerts_create(uv_loop_t *loop, const config_t *cfg, hub_t *hub, alerts_t **out, char *err,
                  size_t errlen);
/* After SIGHUP (cfg already checked with alerts_check_config): the config file's rules are
 * added, changed (their alerts kept when indicator and group stay) or removed to match cfg.
 * Skipped (logged): a new id that an API rule already has, and a rule on an indicator that
 * only the new file has (indicators change at restart). Nothing of cfg is kept. */
void alerts_apply_config(alerts_t *a, const config_t *cfg);
/* Gives the module its database: it loads the stored rules and the active alerts, then stores
 * every change. Call once. */
void alerts_set_dsn(alerts_t *a, const char *dsn);
/* One indicator value change (the engine's listener; ud is the alerts_t). */
void alerts_on_value(void *ud, const char *indicator, const char *group, int64_t ts_us,
                     double value, bool has_value, const char *status);
/* Its counters are on /metrics as iocd_alerts_* (registered with core/metrics.h). */
/* Flushes queued history (briefly), stops webhooks and frees the module. */
void alerts_close(alerts_t *a, void (*done)(void *ud), void *ud);

/* API operations. Each calls reply exactly once, now or later, with an HTTP status and a JSON
 * body that reply owns (NULL for 204). Errors are {"error": ..., "field": ...}. */
typedef void (*alerts_reply_fn)(void *ud, int status, cJSON *body);

/* GET /api/v1/alert-rules: every rule, config ones marked "source": "config", "readonly". */
void alerts_rules_list(alerts_t *a, alerts_reply_fn reply, void *ud);
/* GET /api/v1/alert-rules/{id}. */
void alerts_rule_get(alerts_t *a, const char *id, alerts_reply_fn reply, void *ud);
/* POST (id NULL: 201) or PUT /api/v1/alert-rules/{id} (200) with a rule definition. */
void alerts_rule_put(alerts_t *a, const char *id, const cJSON *def, alerts_reply_fn reply,
                     void *ud);
/* DELETE /api/v1/alert-rules/{id} (204). */
void alerts_rule_delete(alerts_t *a, const char *id, alerts_reply_fn reply, void *ud);
/* POST /api/v1/alert-rules/preview: how often the rule would have fired over the last 24 h,
 * from the 1-minute rollups. */
void alerts_preview(alerts_t *a, const cJSON *def, alerts_reply_fn reply, void *ud);

/* Filters of GET /api/v1/alerts and GET /api/v1/alert-events (NULL / 0: any). */
typedef struct alerts_filter {
    const char *state;  /* alerts: pending, firing, resolved, cancelled, active, acked;
                         * events: the event name */
    const char *rule;
    const char *group;
    int64_t alert_id;
    int64_t since_us;   /* alerts active at or after; events at or after */
    int limit;          /* default 100, at most 1000 */
} alerts_filter_t;

void alerts_list(alerts_t *a, const alerts_filter_t *f, alerts_reply_fn reply, void *ud);
/* GET /api/v1/alerts/{id}: the alert with its "events" and webhook "deliveries". */
void alerts_get(alerts_t *a, int64_t id, alerts_reply_fn reply, void *ud);
void alerts_events(alerts_t *a, const alerts_filter_t *f, alerts_reply_fn reply, void *ud);
/* POST /api/v1/alerts/{id}/ack {"comment"}: who is the caller's name. */
void alerts_ack(alerts_t *a, int64_t id, const char *who, const char *comment,
                alerts_reply_fn reply, void *ud);
/* POST /api/v1/alerts/{id}/silence {"until"} (until_us 0: unsilence). */
void alerts_silence(alerts_t *a, int64_t id, const char *who, int64_t until_us,
                    alerts_reply_fn reply, void *ud);

/* Parses an ISO 8601 time ("2025-01-31T08:00:00+07:00", "...Z", "2025-01-31") into
 * microseconds since the epoch. Returns 0 or IOC_EINVAL. */
int alerts_parse_time(const char *s, int64_t *out);


#endif
