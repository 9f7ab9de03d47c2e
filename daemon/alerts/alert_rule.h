/* Alert rules: definitions validated from JSON (config file or API), condition checks, and
 * message templates. Pure code, no loop or database. */
#ifndef IOCD_ALERT_RULE_H
#define IOCD_ALERT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define ALERT_ID_MAX 64       /* longest rule id */
#define ALERT_MAX_NOTIFY 8    /* notification targets per rule */
#define ALERT_FLAP_MAX 32     /* largest flapping.changes */

typedef enum alert_op {
    AOP_GT, AOP_GE, AOP_LT, AOP_LE, /* value compared with a threshold */
    AOP_OUTSIDE,                    /* value outside [min, max] */
    AOP_RATE,                       /* change over a window compared with a threshold */
    AOP_NODATA,                     /* no value for a duration */
} alert_op_t;

typedef enum alert_severity { ASEV_INFO, ASEV_WARNING, ASEV_CRITICAL } alert_severity_t;

typedef struct alert_target {
    char *channel;        /* "webhook" */
    char *url;
    uint64_t timeout_ms;  /* per attempt, default 5s */
    uint32_t retries;     /* extra attempts after the first, default 3 */
} alert_target_t;

typedef struct alert_rule {
    char id[ALERT_ID_MAX + 1];
    char *name;
    char *indicator;
    char *group;           /* NULL: every group of the indicator */
    alert_op_t op;
    alert_op_t cmp;        /* AOP_RATE: how the change is compared (GT..LE) */
    double value, clear;   /* threshold and clear threshold (clear == value without one) */
    double min, max, clear_min, clear_max; /* AOP_OUTSIDE */
    uint64_t window_ms;    /* AOP_RATE */
    uint64_t after_ms;     /* AOP_NODATA */
    uint64_t for_ms;       /* how long the condition must hold before firing */
    uint64_t repeat_ms;    /* repeat notification while firing and unacknowledged; 0: never */
    uint32_t flap_changes; /* state changes within flap_window_ms that mean flapping */
    uint64_t flap_window_ms;
    alert_severity_t severity;
    char *msg_vi, *msg_en; /* templates */
    alert_target_t notify[ALERT_MAX_NOTIFY];
    size_t nnotify;
    bool enabled;
    bool from_config;      /* read-only over the API */
    cJSON *def;            /* the definition as the API shows it (owned) */
} alert_rule_t;

/* What a validation failure names: the field ("condition.value"), the message, and whether the
 * JSON had the wrong shape (HTTP 400) or a well-formed but unacceptable value (HTTP 422). */
typedef struct alert_err {
    char field[96];
    char msg[256];
    int http;
} alert_err_t;

/* What the rule parser needs to know about indicators: whether one exists and is grouped. */
typedef struct alert_env {
    /* Returns 1 for a grouped indicator, 0 for an ungrouped one, -1 if unknown. */
    int (*indicator)(void *ud, const char *id);
    void *ud;
} alert_env_t;

/* Validates a rule definition. `id` overrides (or supplies) the id; with neither, *out gets an
 * empty id for the caller to assign (alert_rule_set_id). Returns 0 and *out (free with
 * alert_rule_free), or IOC_EINVAL with e filled, or IOC_ENOMEM. */
int alert_rule_parse(const cJSON *j, const char *id, bool from_config, const alert_env_t *env,
                     alert_rule_t **out, alert_err_t *e);
/* Sets the rule's id (also in its def). */
void alert_rule_set_id(alert_rule_t *r, const char *id);
/* True if s is a valid rule id: 1-64 of [a-z0-9_.-]. */
bool alert_rule_id_ok(const char *s);
void alert_rule_free(alert_rule_t *r);
/* The rule as the API shows it: its definition plus "source" and "readonly". Caller owns. */
cJSON *alert_rule_json(const alert_rule_t *r);
const char *alert_severity_name(alert_severity_t s);

/* Checks a value against the rule's threshold: 1 breach, 0 clear (past the clear threshold),
 * -1 between the two (hysteresis band: keep the current state). For AOP_RATE pass the change
 * over the window; AOP_NODATA is decided by the caller. */
int alert_rule_check(const alert_rule_t *r, double v);

/* Fields a message template may use: {name} {indicator} {group} {value} {unit} {threshold}
 * {severity}. */
typedef struct alert_vars {
    const char *name, *indicator, *group, *unit, *severity;
    double value, threshold;
    bool has_value;
} alert_vars_t;

/* Renders a template into out (always NUL-terminated, truncated to len). */
void alert_render(const char *tmpl, const alert_vars_t *v, char *out, size_t len);
/* Checks a template: returns NULL or a static message naming the problem. */
const char *alert_template_error(const char *tmpl);

#endif
