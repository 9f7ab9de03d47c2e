/* The `indicators` config section: validated into indicator definitions, errors located. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "ioc/error.h"

typedef struct ictx {
    const config_t *cfg;
    char *err;
    size_t errlen;
    size_t index; /* the indicator being checked */
} ictx_t;

static int fail_at(ictx_t *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "file:line:column: indicators[i].key: message" (key may be NULL or "a.b"). */
static int fail_at(ictx_t *c, const char *key, const char *fmt, ...)
{
    char path[256], msg[512];
    int line, col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        snprintf(path, sizeof path, "indicators[%zu].%s", c->index, key);
    else
        snprintf(path, sizeof path, "indicators[%zu]", c->index);
    const char *file = c->cfg->path ? c->cfg->path : "config";
    if (config_locate(c->cfg, path, &line, &col) == 0)
        snprintf(c->err, c->errlen, "%s:%d:%d: %s: %s", file, line, col, path, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s: %s", file, path, msg);
    return IOC_EINVAL;
}

static const char *const known_keys[] = {"id",     "name",   "unit",       "metric",
                                         "filter", "agg",    "window",     "group_by",
                                         "expr",   "target", "thresholds", "better", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Unknown or repeated keys of an object at `where` (NULL: the indicator itself). */
static int check_keys(ictx_t *c, const cJSON *obj, const char *where, const char *const *known)
{
    char key[192];
    for (const cJSON *it = obj->child; it; it = it->next) {
        snprintf(key, sizeof key, "%s%s%s", where ? where : "", where ? "." : "", it->string);
        if (!in_list(it->string, known))
            return fail_at(c, key, "unknown key");
        for (const cJSON *o = obj->child; o != it; o = o->next)
            if (strcmp(o->string, it->string) == 0)
                return fail_at(c, key, "duplicate key");
    }
    return IOC_OK;
}

/* A non-empty string at obj.key into *out (copied); absent is fine unless required. */
static int get_string(ictx_t *c, const cJSON *obj, const char *key, const char *path,
                      bool required, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return required ? fail_at(c, NULL, "required key \"%s\" missing", key)
                        : IOC_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail_at(c, path, "expected a non-empty string");
    if (!(*out = strdup(v->valuestring)))
        return IOC_ENOMEM;
    return IOC_OK;
}

static int get_number(ictx_t *c, const cJSON *obj, const char *key, const char *path,
                      double *out, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *present = v != NULL;
    if (!v)
        return IOC_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail_at(c, path, "expected a number");
    *out = v->valuedouble;
    return IOC_OK;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("_.-", *s)))
            return false;
    return true;
}

static int parse_name(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    static const char *const keys[] = {"vi", "en", NULL};
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    int rc;
    if (!name)
        return fail_at(c, NULL, "required key \"name\" missing");
    if (!cJSON_IsObject(name))
        return fail_at(c, "name", "expected an object {\"vi\": ..., \"en\": ...}");
    if ((rc = check_keys(c, name, "name", keys)))
        return rc;
    if (!cJSON_GetObjectItemCaseSensitive(name, "vi"))
        return fail_at(c, "name", "required key \"vi\" missing");
    if ((rc = get_string(c, name, "vi", "name.vi", true, &ind->name_vi)) ||
        (rc = get_string(c, name, "en", "name.en", false, &ind->name_en)))
        return rc;
    return IOC_OK;
}

/* metric + agg (+ filter), or expr. */
static int parse_source(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(o, "metric");
    const cJSON *agg = cJSON_GetObjectItemCaseSensitive(o, "agg");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "expr");
    char msg[256];
    int col, rc;
    if (ex && (metric || agg))
        return fail_at(c, metric ? "metric" : "agg", "not allowed with \"expr\"");
    if (ex) {
        if (!cJSON_IsString(ex))
            return fail_at(c, "expr", "expected a string");
        rc = expr_parse(ex->valuestring, &ind->expr, &col, msg, sizeof msg);
        if (rc == IOC_ENOMEM)
            return rc;
        if (rc)
            return fail_at(c, "expr", "column %d: %s", col, msg);
        return IOC_OK;
    }
    if (!metric)
        return fail_at(c, NULL, "required key \"metric\" (or \"expr\") missing");
    if (!cJSON_IsString(metric) || !metric->valuestring[0])
        return fail_at(c, "metric", "expected a non-empty string");
    if (!agg)
        return fail_at(c, NULL, "required key \"agg\" missing (avg, sum, min, max, last, count, "
                                "rate, p50 or p95)");
    expr_term_t t = {.metric = metric->valuestring};
    if (!cJSON_IsString(agg) || expr_agg_parse(agg->valuestring, strlen(agg->valuestring), &t.agg))
        return fail_at(c, "agg", "expected one of avg, sum, min, max, last, count, rate, p50, p95");
    return expr_single(&t, &ind->expr);
}

static int parse_filter(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "filter");
    char key[192];
    size_t n = 0;
    if (!f)
        return IOC_OK;
    if (!cJSON_IsObject(f))
        return fail_at(c, "filter", "expected an object {\"tag\": \"value\"}");
    for (const cJSON *it = f->child; it; it = it->next, n++) {
        snprintf(key, sizeof key, "filter.%s", it->string);
        if (!it->string[0])
            return fail_at(c, key, "empty tag name");
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return fail_at(c, key, "expected a non-empty string");
        if (n == ENG_MAX_FILTER)
            return fail_at(c, key, "too many tags (at most %d)", ENG_MAX_FILTER);
        for (const cJSON *p = f->child; p != it; p = p->next)
            if (strcmp(p->string, it->string) == 0)
                return fail_at(c, key, "duplicate key");
        int rc = expr_add_filter(ind->expr, it->string, it->valuestring);
        if (rc == IOC_EINVAL)
            return fail_at(c, key, "too many tag conditions in a term (at most %d)",
                           EXPR_MAX_FILTERS);
        if (rc)
            return rc;
    }
    return IOC_OK;
}

static int parse_window(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "window");
    ind->window_ms = 5 * 60 * 1000;
    if (w && (!cJSON_IsString(w) || config_parse_duration(w->valuestring, &ind->window_ms)))
        return fail_at(c, "window", "expected a duration such as \"5m\"");
    if (ind->window_ms < 1000 || ind->window_ms > ENG_MAX_WINDOW_MS)
        return fail_at(c, "window", "must be between 1s and 1d");
    int64_t wus = (int64_t)ind->window_ms * 1000;
    ind->bucket_us = wus / ENG_BUCKETS;
    if (ind->bucket_us < ENG_MIN_BUCKET_US)
        ind->bucket_us = ENG_MIN_BUCKET_US;
    ind->nbuckets = (uint32_t)((wus + ind->bucket_us - 1) / ind->bucket_us);
    return IOC_OK;
}

static int parse_group_by(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "group_by");
    char key[64];
    size_t i = 0;
    if (!g)
        return IOC_OK;
    if (!cJSON_IsArray(g))
        return fail_at(c, "group_by", "expected an array of tag names");
    for (const cJSON *it = g->child; it; it = it->next, i++) {
        snprintf(key, sizeof key, "group_by[%zu]", i);
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return fail_at(c, key, "expected a tag name");
        if (i == ENG_MAX_GROUP_BY)
            return fail_at(c, key, "too many tags (at most %d)", ENG_MAX_GROUP_BY);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ind->group_by[j], it->valuestring) == 0)
                return fail_at(c, key, "tag \"%s\" given twice", it->valuestring);
        if (!(ind->group_by[i] = strdup(it->valuestring)))
            return IOC_ENOMEM;
        ind->ngroup_by = i + 1;
    }
    return IOC_OK;
}

static int parse_status(ictx_t *c, const cJSON *o, eng_ind_t *ind)
{
    static const char *const tkeys[] = {"op", "value", NULL};
    static const char *const hkeys[] = {"warn", "crit", NULL};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "target");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "thresholds");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "better");
    bool dir_known = false;
    int rc;
    if (t) {
        if (!cJSON_IsObject(t))
            return fail_at(c, "target", "expected an object {\"op\": \">=\", \"value\": 30}");
        if ((rc = check_keys(c, t, "target", tkeys)))
            return rc;
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(t, "op");
        if (!op)
            return fail_at(c, "target", "required key \"op\" missing");
        if (!cJSON_IsString(op) || (strcmp(op->valuestring, ">=") && strcmp(op->valuestring, ">") &&
                                    strcmp(op->valuestring, "<=") && strcmp(op->valuestring, "<")))
            return fail_at(c, "target.op", "expected \">=\", \">\", \"<=\" or \"<\"");
        snprintf(ind->target_op, sizeof ind->target_op, "%s", op->valuestring);
        if ((rc = get_number(c, t, "value", "target.value", &ind->target, &ind->has_target)))
            return rc;
        if (!ind->has_target)
            return fail_at(c, "target", "required key \"value\" missing");
        ind->higher_better = ind->target_op[0] == '>';
        dir_known = true;
    }
    if (b) {
        if (!cJSON_IsString(b) ||
            (strcmp(b->valuestring, "higher") && strcmp(b->valuestring, "lower")))
            return fail_at(c, "better", "expected \"higher\" or \"lower\"");
        bool higher = strcmp(b->valuestring, "higher") == 0;
        if (dir_known && higher != ind->higher_better)
            return fail_at(c, "better", "contradicts target.op \"%s\"", ind->target_op);
        ind->higher_better = higher;
        dir_known = true;
    }
    if (!th)
        return IOC_OK;
    if (!cJSON_IsObject(th))
        return fail_at(c, "thresholds", "expected an object {\"warn\": ..., \"crit\": ...}");
    if ((rc = check_keys(c, th, "thresholds", hkeys)) ||
        (rc = get_number(c, th, "warn", "thresholds.warn", &ind->warn, &ind->has_warn)) ||
        (rc = get_number(c, th, "crit", "thresholds.crit", &ind->crit, &ind->has_crit)))
        return rc;
    if (!ind->has_warn && !ind->has_crit)
        return fail_at(c, "thresholds", "give \"warn\", \"crit\" or both");
    if (!dir_known)
        return fail_at(c, "thresholds", "needs a direction: \"better\": \"higher\" or \"lower\" "
                                        "(or a target)");
    if (ind->has_warn && ind->has_crit &&
        (ind->higher_better ? ind->crit > ind->warn : ind->crit < ind->warn))
        return fail_at(c, "thresholds.crit", "must be %s than warn when %s is better",
                       ind->higher_better ? "lower" : "higher",
                       ind->higher_better ? "higher" : "lower");
    return IOC_OK;
}

static void fmt_duration(char *buf, size_t len, uint64_t ms)
{
    if (ms % 86400000 == 0)
        snprintf(buf, len, "%llud", (unsigned long long)(ms / 86400000));
    else if (ms % 3600000 == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* The definition as the API shows it. */
static int build_def(const cJSON *o, eng_ind_t *ind)
{
    char w[32];
    cJSON *d = cJSON_CreateObject(), *name, *gb;
    if (!d)
        return IOC_ENOMEM;
    ind->def = d;
    cJSON_AddStringToObject(d, "id", ind->id);
    name = cJSON_AddObjectToObject(d, "name");
    if (name) {
        cJSON_AddStringToObject(name, "vi", ind->name_vi);
        cJSON_AddStringToObject(name, "en", ind->name_en ? ind->name_en : ind->name_vi);
    }
    cJSON_AddStringToObject(d, "unit", ind->unit ? ind->unit : "");
    static const char *const copied[] = {"metric", "agg", "filter", "expr", NULL};
    for (const char *const *k = copied; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *k);
        if (v)
            cJSON_AddItemToObject(d, *k, cJSON_Duplicate(v, true));
    }
    fmt_duration(w, sizeof w, ind->window_ms);
    cJSON_AddStringToObject(d, "window", w);
    gb = cJSON_AddArrayToObject(d, "group_by");
    for (size_t i = 0; gb && i < ind->ngroup_by; i++)
        cJSON_AddItemToArray(gb, cJSON_CreateString(ind->group_by[i]));
    if (ind->has_target) {
        cJSON *t = cJSON_AddObjectToObject(d, "target");
        if (t) {
            cJSON_AddStringToObject(t, "op", ind->target_op);
            cJSON_AddNumberToObject(t, "value", ind->target);
        }
    }
    if (ind->has_warn || ind->has_crit) {
        cJSON *t = cJSON_AddObjectToObject(d, "thresholds");
        if (t && ind->has_warn)
            cJSON_AddNumberToObject(t, "warn", ind->warn);
        if (t && ind->has_crit)
            cJSON_AddNumberToObject(t, "crit", ind->crit);
    }
    cJSON_AddStringToObject(d, "better", ind->higher_better ? "higher" : "lower");
    return IOC_OK;
}

static int parse_one(ictx_t *c, const cJSON *o, eng_ind_t *inds, size_t i)
{
    eng_ind_t *ind = &inds[i];
    int rc;
    ind->higher_better = true;
    if (!cJSON_IsObject(o))
        return fail_at(c, NULL, "expected an object");
    if ((rc = check_keys(c, o, NULL, known_keys)))
        return rc;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!id)
        return fail_at(c, NULL, "required key \"id\" missing");
    if (!cJSON_IsString(id) || !valid_id(id->valuestring))
        return fail_at(c, "id", "expected 1 to 64 of a-z, 0-9, '_', '.', '-'");
    for (size_t j = 0; j < i; j++)
        if (strcmp(inds[j].id, id->valuestring) == 0)
            return fail_at(c, "id", "duplicate id \"%s\" (also indicators[%zu])",
                           id->valuestring, j);
    if (!(ind->id = strdup(id->valuestring)))
        return IOC_ENOMEM;
    if ((rc = parse_name(c, o, ind)) || (rc = get_string(c, o, "unit", "unit", false, &ind->unit)) ||
        (rc = parse_source(c, o, ind)) || (rc = parse_filter(c, o, ind)) ||
        (rc = parse_window(c, o, ind)) || (rc = parse_group_by(c, o, ind)) ||
        (rc = parse_status(c, o, ind)) || (rc = build_def(o, ind)))
        return rc;
    return IOC_OK;
}

int eng_inds_parse(const config_t *cfg, eng_ind_t **out, size_t *n, char *err, size_t errlen)
{
    ictx_t c = {.cfg = cfg, .err = err, .errlen = errlen};
    const cJSON *arr = cfg->indicators;
    size_t count = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
    eng_ind_t *inds = NULL;
    int rc = IOC_OK;
    *out = NULL;
    *n = 0;
    if (arr && !cJSON_IsArray(arr)) {
        snprintf(err, errlen, "%s: indicators: expected an array", cfg->path ? cfg->path : "config");
        return IOC_EINVAL;
    }
    if (count > ENG_MAX_INDICATORS) {
        snprintf(err, errlen, "%s: indicators: too many (at most %d)",
                 cfg->path ? cfg->path : "config", ENG_MAX_INDICATORS);
        return IOC_EINVAL;
    }
    if (count && !(inds = calloc(count, sizeof *inds)))
        return IOC_ENOMEM;
    const cJSON *it = arr ? arr->child : NULL;
    for (size_t i = 0; i < count; i++, it = it->next) {
        c.index = i;
        if ((rc = parse_one(&c, it, inds, i))) {
            if (rc == IOC_ENOMEM)
                snprintf(err, errlen, "out of memory");
            eng_inds_free(inds, count);
            return rc;
        }
    }
    *out = inds;
    *n = count;
    return IOC_OK;
}

void eng_inds_free(eng_ind_t *inds, size_t n)
{
    for (size_t i = 0; inds && i < n; i++) {
        eng_ind_t *ind = &inds[i];
        free(ind->id);
        free(ind->name_vi);
        free(ind->name_en);
        free(ind->unit);
        for (size_t g = 0; g < ind->ngroup_by; g++)
            free(ind->group_by[g]);
        expr_free(ind->expr);
        cJSON_Delete(ind->def);
    }
    free(inds);
}

eng_status_t eng_status_of(const eng_ind_t *ind, bool has, double v)
{
    if (!has)
        return ST_NODATA;
    bool hi = ind->higher_better;
    if (ind->has_crit && (hi ? v < ind->crit : v > ind->crit))
        return ST_CRIT;
    if (ind->has_warn && (hi ? v < ind->warn : v > ind->warn))
        return ST_WARN;
    if (!ind->has_warn && !ind->has_crit && ind->has_target) {
        bool met;
        if (!strcmp(ind->target_op, ">="))
            met = v >= ind->target;
        else if (!strcmp(ind->target_op, ">"))
            met = v > ind->target;
        else if (!strcmp(ind->target_op, "<="))
            met = v <= ind->target;
        else
            met = v < ind->target;
        return met ? ST_OK : ST_WARN;
    }
    return ST_OK;
}

const char *eng_status_name(eng_status_t st)
{
    switch (st) {
    case ST_OK: return "ok";
    case ST_WARN: return "warn";
    case ST_CRIT: return "crit";
    default: return "no-data";
    }
}
