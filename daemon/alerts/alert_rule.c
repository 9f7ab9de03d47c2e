/* Alert rule definitions: validation from JSON with errors naming the field, and conditions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert_rule.h"
#include "config/config.h"
#include "ioc/error.h"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_RETRIES 3
#define MAX_TIMEOUT_MS 60000
#define MAX_RETRIES 10
#define MAX_DURATION_MS (7ULL * 86400 * 1000)
#define MAX_TEXT 1024

static int fail(alert_err_t *e, int http, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(alert_err_t *e, int http, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    snprintf(e->field, sizeof e->field, "%s", field);
    e->http = http;
    return IOC_EINVAL;
}

bool alert_rule_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ALERT_ID_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("_.-", *s)))
            return false;
    return true;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Unknown keys of an object whose fields are prefixed with `where` ("" at the top). */
static int check_keys(const cJSON *o, const char *where, const char *const *known, alert_err_t *e)
{
    char f[96];
    for (const cJSON *it = o->child; it; it = it->next) {
        snprintf(f, sizeof f, "%s%s", where, it->string);
        if (!in_list(it->string, known))
            return fail(e, 422, f, "unknown key");
        for (const cJSON *p = o->child; p != it; p = p->next)
            if (strcmp(p->string, it->string) == 0)
                return fail(e, 400, f, "duplicate key");
    }
    return IOC_OK;
}

/* A string field; NULL *out when absent and not required. Empty strings are refused. */
static int get_str(const cJSON *o, const char *key, const char *field, bool required,
                   const char **out, alert_err_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v)
        return required ? fail(e, 400, field, "required") : IOC_OK;
    if (!cJSON_IsString(v))
        return fail(e, 400, field, "expected a string");
    if (!v->valuestring[0])
        return fail(e, 422, field, "must not be empty");
    if (strlen(v->valuestring) > MAX_TEXT)
        return fail(e, 422, field, "longer than %d bytes", MAX_TEXT);
    *out = v->valuestring;
    return IOC_OK;
}

static int get_num(const cJSON *o, const char *key, const char *field, bool required,
                   double *out, bool *present, alert_err_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return required ? fail(e, 400, field, "required") : IOC_OK;
    if (!cJSON_IsNumber(v))
        return fail(e, 400, field, "expected a number");
    if (!isfinite(v->valuedouble))
        return fail(e, 422, field, "must be finite");
    *out = v->valuedouble;
    return IOC_OK;
}

/* A duration string ("30s", "5m"); absent keeps *ms. */
static int get_dur(const cJSON *o, const char *key, const char *field, bool required,
                   uint64_t *ms, alert_err_t *e)
{
    const char *s;
    uint64_t v;
    int rc = get_str(o, key, field, required, &s, e);
    if (rc || !s)
        return rc;
    if (config_parse_duration(s, &v))
        return fail(e, 422, field, "expected a duration such as \"30s\", \"5m\", \"1h\"");
    if (v > MAX_DURATION_MS)
        return fail(e, 422, field, "at most 7d");
    *ms = v;
    return IOC_OK;
}

static int parse_cmp(const char *s, alert_op_t *op)
{
    static const char *const names[] = {">", ">=", "<", "<="};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *op = (alert_op_t)i;
            return 0;
        }
    return -1;
}

/* The threshold and optional clear threshold of a comparison, clear on the safe side. */
static int parse_threshold(const cJSON *c, alert_op_t cmp, alert_rule_t *r, alert_err_t *e)
{
    bool has_clear;
    int rc = get_num(c, "value", "condition.value", true, &r->value, NULL, e);
    if (!rc)
        rc = get_num(c, "clear", "condition.clear", false, &r->clear, &has_clear, e);
    if (rc)
        return rc;
    if (!has_clear)
        r->clear = r->value;
    else if ((cmp == AOP_GT || cmp == AOP_GE) && r->clear > r->value)
        return fail(e, 422, "condition.clear", "must not be above value for \"%s\"",
                    cmp == AOP_GT ? ">" : ">=");
    else if ((cmp == AOP_LT || cmp == AOP_LE) && r->clear < r->value)
        return fail(e, 422, "condition.clear", "must not be below value for \"%s\"",
                    cmp == AOP_LT ? "<" : "<=");
    return IOC_OK;
}

static int parse_condition(const cJSON *j, alert_rule_t *r, alert_err_t *e)
{
    static const char *const k_cmp[] = {"op", "value", "clear", NULL};
    static const char *const k_out[] = {"op", "min", "max", "clear_min", "clear_max", NULL};
    static const char *const k_rate[] = {"op", "window", "cmp", "value", "clear", NULL};
    static const char *const k_nodata[] = {"op", "after", NULL};
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "condition");
    const char *op, *cmp;
    bool has;
    int rc;
    if (!c)
        return fail(e, 400, "condition", "required");
    if (!cJSON_IsObject(c))
        return fail(e, 400, "condition",
                    "expected an object such as {\"op\": \">\", \"value\": 30}");
    if ((rc = get_str(c, "op", "condition.op", true, &op, e)))
        return rc;
    if (parse_cmp(op, &r->op) == 0) {
        if ((rc = check_keys(c, "condition.", k_cmp, e)))
            return rc;
        return parse_threshold(c, r->op, r, e);
    }
    if (strcmp(op, "outside") == 0) {
        r->op = AOP_OUTSIDE;
        if ((rc = check_keys(c, "condition.", k_out, e)) ||
            (rc = get_num(c, "min", "condition.min", true, &r->min, NULL, e)) ||
            (rc = get_num(c, "max", "condition.max", true, &r->max, NULL, e)))
            return rc;
        if (r->min >= r->max)
            return fail(e, 422, "condition.max", "must be above min");
        r->clear_min = r->min;
        r->clear_max = r->max;
        if ((rc = get_num(c, "clear_min", "condition.clear_min", false, &r->clear_min, &has, e)))
            return rc;
        if (has && (r->clear_min < r->min || r->clear_min > r->max))
            return fail(e, 422, "condition.clear_min", "must be within [min, max]");
        if ((rc = get_num(c, "clear_max", "condition.clear_max", false, &r->clear_max, &has, e)))
            return rc;
        if (has && (r->clear_max > r->max || r->clear_max < r->clear_min))
            return fail(e, 422, "condition.clear_max", "must be within [clear_min, max]");
        return IOC_OK;
    }
    if (strcmp(op, "rate") == 0) {
        r->op = AOP_RATE;
        if ((rc = check_keys(c, "condition.", k_rate, e)) ||
            (rc = get_dur(c, "window", "condition.window", true, &r->window_ms, e)) ||
            (rc = get_str(c, "cmp", "condition.cmp", true, &cmp, e)))
            return rc;
        if (r->window_ms < 60000)
            return fail(e, 422, "condition.window", "at least 1m");
        if (parse_cmp(cmp, &r->cmp))
            return fail(e, 422, "condition.cmp", "expected \">\", \">=\", \"<\" or \"<=\"");
        return parse_threshold(c, r->cmp, r, e);
    }
    if (strcmp(op, "nodata") == 0) {
        r->op = AOP_NODATA;
        if ((rc = check_keys(c, "condition.", k_nodata, e)) ||
            (rc = get_dur(c, "after", "condition.after", true, &r->after_ms, e)))
            return rc;
        if (r->after_ms < 1000)
            return fail(e, 422, "condition.after", "at least 1s");
        return IOC_OK;
    }
    return fail(e, 422, "condition.op", "unknown op (use \">\", \">=\", \"<\", \"<=\", "
                                        "\"outside\", \"rate\" or \"nodata\")");
}

static int parse_notify(const cJSON *j, alert_rule_t *r, alert_err_t *e)
{
    static const char *const keys[] = {"webhook", "timeout", "retries", NULL};
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "notify"), *it;
    char f[96];
    int rc;
    if (!n)
        return IOC_OK;
    if (!cJSON_IsArray(n))
        return fail(e, 400, "notify", "expected an array such as [{\"webhook\": \"https://...\"}]");
    if (cJSON_GetArraySize(n) > ALERT_MAX_NOTIFY)
        return fail(e, 422, "notify", "at most %d targets", ALERT_MAX_NOTIFY);
    cJSON_ArrayForEach(it, n)
    {
        size_t i = r->nnotify;
        alert_target_t *t = &r->notify[i];
        const char *url;
        double retries = DEFAULT_RETRIES;
        bool has;
        snprintf(f, sizeof f, "notify[%zu]", i);
        if (!cJSON_IsObject(it))
            return fail(e, 400, f, "expected an object such as {\"webhook\": \"https://...\"}");
        snprintf(f, sizeof f, "notify[%zu].", i);
        if ((rc = check_keys(it, f, keys, e)))
            return rc;
        snprintf(f, sizeof f, "notify[%zu].webhook", i);
        if ((rc = get_str(it, "webhook", f, true, &url, e)))
            return rc;
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
            return fail(e, 422, f, "expected an http:// or https:// URL");
        t->timeout_ms = DEFAULT_TIMEOUT_MS;
        snprintf(f, sizeof f, "notify[%zu].timeout", i);
        if ((rc = get_dur(it, "timeout", f, false, &t->timeout_ms, e)))
            return rc;
        if (t->timeout_ms < 100 || t->timeout_ms > MAX_TIMEOUT_MS)
            return fail(e, 422, f, "between 100ms and 60s");
        snprintf(f, sizeof f, "notify[%zu].retries", i);
        if ((rc = get_num(it, "retries", f, false, &retries, &has, e)))
            return rc;
        if (retries < 0 || retries > MAX_RETRIES || retries != floor(retries))
            return fail(e, 422, f, "a whole number from 0 to %d", MAX_RETRIES);
        t->retries = (uint32_t)retries;
        if (!(t->channel = strdup("webhook")) || !(t->url = strdup(url)))
            return IOC_ENOMEM;
        r->nnotify++;
    }
    return IOC_OK;
}

static int parse_message(const cJSON *j, alert_rule_t *r, alert_err_t *e)
{
    static const char *const keys[] = {"vi", "en", NULL};
    static const char def_vi[] = "{name}: {indicator} {group} = {value} {unit}";
    static const char def_en[] = "{name}: {indicator} {group} is {value} {unit}";
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    const char *vi = NULL, *en = NULL, *why;
    int rc;
    if (m) {
        if (!cJSON_IsObject(m))
            return fail(e, 400, "message", "expected an object {\"vi\": ..., \"en\": ...}");
        if ((rc = check_keys(m, "message.", keys, e)) ||
            (rc = get_str(m, "vi", "message.vi", false, &vi, e)) ||
            (rc = get_str(m, "en", "message.en", false, &en, e)))
            return rc;
        if (vi && (why = alert_template_error(vi)))
            return fail(e, 422, "message.vi", "%s", why);
        if (en && (why = alert_template_error(en)))
            return fail(e, 422, "message.en", "%s", why);
    }
    r->msg_vi = strdup(vi ? vi : en ? en : def_vi);
    r->msg_en = strdup(en ? en : vi ? vi : def_en);
    return r->msg_vi && r->msg_en ? IOC_OK : IOC_ENOMEM;
}

static int parse_flapping(const cJSON *j, alert_rule_t *r, alert_err_t *e)
{
    static const char *const keys[] = {"changes", "window", NULL};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "flapping");
    double changes = r->flap_changes;
    bool has;
    int rc;
    if (!f)
        return IOC_OK;
    if (!cJSON_IsObject(f))
        return fail(e, 400, "flapping", "expected an object {\"changes\": 6, \"window\": \"30m\"}");
    if ((rc = check_keys(f, "flapping.", keys, e)) ||
        (rc = get_num(f, "changes", "flapping.changes", false, &changes, &has, e)) ||
        (rc = get_dur(f, "window", "flapping.window", false, &r->flap_window_ms, e)))
        return rc;
    if (changes != floor(changes) || (changes != 0 && (changes < 2 || changes > ALERT_FLAP_MAX)))
        return fail(e, 422, "flapping.changes", "0 (off) or a whole number from 2 to %d",
                    ALERT_FLAP_MAX);
    r->flap_changes = (uint32_t)changes;
    return IOC_OK;
}

static int parse_severity(const cJSON *j, alert_rule_t *r, alert_err_t *e)
{
    const char *s;
    int rc = get_str(j, "severity", "severity", false, &s, e);
    if (rc || !s)
        return rc;
    for (int i = ASEV_INFO; i <= ASEV_CRITICAL; i++)
        if (strcmp(s, alert_severity_name((alert_severity_t)i)) == 0) {
            r->severity = (alert_severity_t)i;
            return IOC_OK;
        }
    return fail(e, 422, "severity", "expected \"info\", \"warning\" or \"critical\"");
}

static int parse_all(const cJSON *j, const alert_env_t *env, alert_rule_t *r, alert_err_t *e)
{
    static const char *const keys[] = {"id",      "name",   "indicator", "group",    "condition",
                                       "for",     "severity", "message", "notify",   "repeat",
                                       "enabled", "flapping", "source",  "readonly", NULL};
    const char *name, *ind, *group;
    const cJSON *en;
    int rc, kind;
    if (!cJSON_IsObject(j))
        return fail(e, 400, "", "expected a JSON object");
    if ((rc = check_keys(j, "", keys, e)) || (rc = get_str(j, "name", "name", true, &name, e)) ||
        (rc = get_str(j, "indicator", "indicator", true, &ind, e)))
        return rc;
    kind = env && env->indicator ? env->indicator(env->ud, ind) : 0;
    if (kind < 0)
        return fail(e, 422, "indicator", "unknown indicator \"%.100s\"", ind);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "group");
    if (g && !cJSON_IsString(g))
        return fail(e, 400, "group", "expected a string");
    group = g ? g->valuestring : NULL;
    if (group && strlen(group) > 256)
        return fail(e, 422, "group", "longer than 256 bytes");
    if (group && *group && kind == 0)
        return fail(e, 422, "group", "indicator \"%.100s\" has no groups", ind);
    if (!(r->name = strdup(name)) || !(r->indicator = strdup(ind)) ||
        (group && !(r->group = strdup(group))))
        return IOC_ENOMEM;
    if ((rc = parse_condition(j, r, e)) || (rc = get_dur(j, "for", "for", false, &r->for_ms, e)) ||
        (rc = get_dur(j, "repeat", "repeat", false, &r->repeat_ms, e)) ||
        (rc = parse_severity(j, r, e)) || (rc = parse_message(j, r, e)) ||
        (rc = parse_notify(j, r, e)) || (rc = parse_flapping(j, r, e)))
        return rc;
    if (r->repeat_ms && r->repeat_ms < 60000)
        return fail(e, 422, "repeat", "at least 1m (or \"0s\" for never)");
    en = cJSON_GetObjectItemCaseSensitive(j, "enabled");
    if (en && !cJSON_IsBool(en))
        return fail(e, 400, "enabled", "expected true or false");
    r->enabled = !en || cJSON_IsTrue(en);
    return IOC_OK;
}

/* The normalised definition: the input minus the API's own fields, with the id. */
static cJSON *make_def(const cJSON *j, const char *id)
{
    cJSON *d = cJSON_Duplicate(j, 1);
    if (!d)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(d, "source");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "readonly");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "id");
    if (!cJSON_AddStringToObject(d, "id", id)) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

int alert_rule_parse(const cJSON *j, const char *id, bool from_config, const alert_env_t *env,
                     alert_rule_t **out, alert_err_t *e)
{
    alert_rule_t *r = calloc(1, sizeof *r);
    int rc = IOC_ENOMEM;
    *out = NULL;
    memset(e, 0, sizeof *e);
    if (!r)
        goto fail;
    r->severity = ASEV_WARNING;
    r->repeat_ms = 3600000;
    r->flap_changes = 6;
    r->flap_window_ms = 1800000;
    r->from_config = from_config;
    if ((rc = parse_all(j, env, r, e)))
        goto fail;
    if (!id) {
        const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (jid && !cJSON_IsString(jid)) {
            rc = fail(e, 400, "id", "expected a string");
            goto fail;
        }
        id = jid ? jid->valuestring : NULL;
    }
    if (id && !alert_rule_id_ok(id)) {
        rc = fail(e, 422, "id", "1 to 64 of a-z, 0-9, '_', '.', '-'");
        goto fail;
    }
    if (id)
        snprintf(r->id, sizeof r->id, "%s", id);
    rc = IOC_ENOMEM;
    if (!(r->def = make_def(j, r->id)))
        goto fail;
    *out = r;
    return IOC_OK;
fail:
    if (rc == IOC_ENOMEM)
        fail(e, 500, "", "out of memory");
    alert_rule_free(r);
    return rc;
}

void alert_rule_set_id(alert_rule_t *r, const char *id)
{
    snprintf(r->id, sizeof r->id, "%s", id);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r->def, "id");
    if (v)
        cJSON_SetValuestring(v, r->id);
}

void alert_rule_free(alert_rule_t *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->indicator);
    free(r->group);
    free(r->msg_vi);
    free(r->msg_en);
    for (size_t i = 0; i < r->nnotify; i++) {
        free(r->notify[i].channel);
        free(r->notify[i].url);
    }
    cJSON_Delete(r->def);
    free(r);
}

cJSON *alert_rule_json(const alert_rule_t *r)
{
    cJSON *o = cJSON_Duplicate(r->def, 1);
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "source", r->from_config ? "config" : "api");
    cJSON_AddBoolToObject(o, "readonly", r->from_config);
    return o;
}

const char *alert_severity_name(alert_severity_t s)
{
    return s == ASEV_INFO ? "info" : s == ASEV_CRITICAL ? "critical" : "warning";
}

/* 1 if v passes the comparison against t. */
static bool cmp_pass(alert_op_t op, double v, double t)
{
    switch (op) {
    case AOP_GT: return v > t;
    case AOP_GE: return v >= t;
    case AOP_LT: return v < t;
    case AOP_LE: return v <= t;
    default: return false;
    }
}

int alert_rule_check(const alert_rule_t *r, double v)
{
    alert_op_t op = r->op == AOP_RATE ? r->cmp : r->op;
    switch (op) {
    case AOP_GT:
    case AOP_GE:
    case AOP_LT:
    case AOP_LE:
        if (cmp_pass(op, v, r->value))
            return 1;
        /* Clear once the value is back past the clear threshold (strictly, for a band). */
        if (r->clear == r->value)
            return 0;
        return (op == AOP_GT || op == AOP_GE) ? (v <= r->clear ? 0 : -1)
                                              : (v >= r->clear ? 0 : -1);
    case AOP_OUTSIDE:
        if (v < r->min || v > r->max)
            return 1;
        return v >= r->clear_min && v <= r->clear_max ? 0 : -1;
    default:
        return 0;
    }
}
