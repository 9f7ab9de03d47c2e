/* What an export asks for: parameters checked one by one, indicators looked up in the config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ioc/error.h"
#include "reports/report_int.h"

#define TIME_HINT                                                                              \
    "expected ISO 8601, e.g. 2025-01-31, 2025-01-31T08:00 or 2025-01-31T08:00:00+07:00"

int rpt_parse_step(const char *v, rpt_step_t *out)
{
    static const char *const names[] = {"1m", "1h", "1d", "1w", "1mo"};
    for (int i = 0; i < 5; i++) {
        if (!strcmp(v, names[i])) {
            *out = (rpt_step_t)i;
            return 0;
        }
    }
    return -1;
}

int rpt_parse_format(const char *v, rpt_format_t *out)
{
    if (!strcmp(v, "csv"))
        *out = RPT_CSV;
    else if (!strcmp(v, "json"))
        *out = RPT_JSON;
    else if (!strcmp(v, "xlsx"))
        *out = RPT_XLSX;
    else
        return -1;
    return 0;
}

int rpt_parse_compare(const char *v, rpt_cmp_t *out)
{
    if (!strcmp(v, "none") || !*v)
        *out = RPT_CMP_NONE;
    else if (!strcmp(v, "month"))
        *out = RPT_CMP_MONTH;
    else if (!strcmp(v, "year"))
        *out = RPT_CMP_YEAR;
    else
        return -1;
    return 0;
}

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

bool rpt_time_ok(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y = digits(&p, 4), mo, d, h = 0, mi = 0, sec = 0;
    if (y < 1970 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
        (d = digits(&p, 2)) < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    if (!*p)
        return true;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || mi > 59)
        return false;
    if (*p == ':') {
        p++;
        if ((sec = digits(&p, 2)) < 0 || sec > 59)
            return false;
        if (*p == '.') {
            if (*++p < '0' || *p > '9')
                return false;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-' || *p == ' ') { /* a '+' may arrive as a space from a query */
        p++;
        int oh = digits(&p, 2), om = 0;
        if (oh < 0 || oh > 14)
            return false;
        if (*p == ':')
            p++;
        if (*p && ((om = digits(&p, 2)) < 0 || om > 59))
            return false;
    }
    return *p == '\0';
}

bool rpt_tz_ok(const char *tz)
{
    char path[160];
    struct stat st;
    if (!*tz || strlen(tz) > 60 || strstr(tz, "..") || tz[0] == '/')
        return false;
    for (const char *c = tz; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("/_+-", *c)))
            return false;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *str_of(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

static bool num_of(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

/* When the engine calls a value ok (eng_status_of): better than warn (or crit) when they are
 * set, else meeting the target, else always. */
static void ok_rule(const cJSON *def, rpt_ind_t *ind)
{
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(def, "target");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(def, "thresholds");
    const char *op = str_of(target, "op", NULL), *better = str_of(def, "better", NULL);
    double warn, crit, tv;
    bool hw = num_of(th, "warn", &warn), hc = num_of(th, "crit", &crit);
    bool higher = better ? !strcmp(better, "higher") : !(op && op[0] == '<');
    ind->ok_op[0] = '\0';
    if (hw || hc) {
        snprintf(ind->ok_op, sizeof ind->ok_op, "%s", higher ? ">=" : "<=");
        ind->ok_val = hw ? warn : crit;
    } else if (op && num_of(target, "value", &tv)) {
        snprintf(ind->ok_op, sizeof ind->ok_op, "%s", op);
        ind->ok_val = tv;
    }
}

static const cJSON *find_def(const config_t *cfg, const char *id)
{
    const cJSON *def;
    cJSON_ArrayForEach(def, cfg->indicators)
    {
        if (!strcmp(str_of(def, "id", ""), id))
            return def;
    }
    return NULL;
}

static int add_ind(rpt_spec_t *s, const cJSON *def, bool english)
{
    rpt_ind_t *ind = &s->inds[s->ninds];
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(def, "name");
    const char *vi = str_of(name, "vi", str_of(def, "id", ""));
    memset(ind, 0, sizeof *ind);
    ind->id = strdup(str_of(def, "id", ""));
    ind->name = strdup(english ? str_of(name, "en", vi) : vi);
    ind->unit = strdup(str_of(def, "unit", ""));
    ok_rule(def, ind);
    s->ninds++;
    return ind->id && ind->name && ind->unit ? IOC_OK : IOC_ENOMEM;
}

int rpt_spec_set_indicators(rpt_spec_t *s, const config_t *cfg, const cJSON *ids, bool english,
                            char *msg, size_t mlen)
{
    const cJSON *it;
    int n = ids ? cJSON_GetArraySize(ids) : cJSON_GetArraySize(cfg->indicators);
    s->inds = calloc(n ? (size_t)n : 1, sizeof *s->inds);
    if (!s->inds)
        return IOC_ENOMEM;
    if (!ids) {
        cJSON_ArrayForEach(it, cfg->indicators)
        {
            if (add_ind(s, it, english))
                return IOC_ENOMEM;
        }
        return IOC_OK;
    }
    cJSON_ArrayForEach(it, ids)
    {
        const cJSON *def = cJSON_IsString(it) ? find_def(cfg, it->valuestring) : NULL;
        if (!def) {
            snprintf(msg, mlen, "unknown indicator \"%.100s\"",
                     cJSON_IsString(it) ? it->valuestring : "?");
            return IOC_ENOTFOUND;
        }
        for (size_t i = 0; i < s->ninds; i++) {
            if (!strcmp(s->inds[i].id, it->valuestring)) {
                snprintf(msg, mlen, "indicator \"%.100s\" named twice", it->valuestring);
                return IOC_ENOTFOUND;
            }
        }
        if (add_ind(s, def, english))
            return IOC_ENOMEM;
    }
    return IOC_OK;
}

/* Splits "a,b,c" into a JSON array of strings (NULL for "" or "all"). */
static cJSON *split_ids(const char *v)
{
    cJSON *arr;
    if (!v || !*v || !strcmp(v, "all"))
        return NULL;
    arr = cJSON_CreateArray();
    for (const char *p = v; arr && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char *id = strndup(p, n);
        cJSON *item = id ? cJSON_CreateString(id) : NULL;
        free(id);
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
        p += n + (c ? 1 : 0);
    }
    return arr;
}

/* Copies an ISO time, turning a space after the date-time (a '+' decoded from a query) back. */
static void copy_time(char *dst, size_t len, const char *v)
{
    snprintf(dst, len, "%s", v);
    for (size_t i = 11; i < len && dst[i]; i++)
        if (dst[i] == ' ')
            dst[i] = '+';
}

static int fail(char *param, size_t plen, const char *name, char *msg, size_t mlen,
                const char *what)
{
    snprintf(param, plen, "%s", name);
    snprintf(msg, mlen, "%s", what);
    return IOC_EINVAL;
}

int rpt_spec_parse(const config_t *cfg, rpt_get_fn get, void *ud, rpt_spec_t *s, char *param,
                   size_t plen, char *msg, size_t mlen)
{
    const char *v;
    int rc = rpt_spec_options(cfg, get, ud, s, param, plen, msg, mlen);
    if (rc)
        return rc;
    if ((v = get(ud, "from")) == NULL || !rpt_time_ok(v) || strlen(v) >= sizeof s->from)
        return fail(param, plen, "from", msg, mlen, v ? TIME_HINT : "required; " TIME_HINT);
    copy_time(s->from, sizeof s->from, v);
    if ((v = get(ud, "to")) == NULL || !rpt_time_ok(v) || strlen(v) >= sizeof s->to)
        return fail(param, plen, "to", msg, mlen, v ? TIME_HINT : "required; " TIME_HINT);
    copy_time(s->to, sizeof s->to, v);
    return IOC_OK;
}

int rpt_spec_options(const config_t *cfg, rpt_get_fn get, void *ud, rpt_spec_t *s,
                     char *param, size_t plen, char *msg, size_t mlen)
{
    const char *v;
    memset(s, 0, sizeof *s);
    s->sep = ',';
    s->step = RPT_STEP_1H;
    snprintf(s->tz, sizeof s->tz, "%s", RPT_DEFAULT_TZ);
    if ((v = get(ud, "step")) && rpt_parse_step(v, &s->step))
        return fail(param, plen, "step", msg, mlen, "expected 1m, 1h, 1d, 1w or 1mo");
    if ((v = get(ud, "format")) && rpt_parse_format(v, &s->format))
        return fail(param, plen, "format", msg, mlen, "expected csv, json or xlsx");
    if ((v = get(ud, "compare")) && rpt_parse_compare(v, &s->compare))
        return fail(param, plen, "compare", msg, mlen, "expected month, year or none");
    if ((v = get(ud, "tz")) && (!rpt_tz_ok(v) || strlen(v) >= sizeof s->tz))
        return fail(param, plen, "tz", msg, mlen,
                    "expected a time zone name, e.g. Asia/Ho_Chi_Minh or UTC");
    if (v)
        snprintf(s->tz, sizeof s->tz, "%s", v);
    if ((v = get(ud, "bom")) && strcmp(v, "0") && strcmp(v, "1"))
        return fail(param, plen, "bom", msg, mlen, "expected 0 or 1");
    s->bom = v && !strcmp(v, "1");
    if ((v = get(ud, "sep")) && strcmp(v, ",") && strcmp(v, ";"))
        return fail(param, plen, "sep", msg, mlen, "expected , or ;");
    if (v)
        s->sep = v[0];
    if ((v = get(ud, "layout")) && strcmp(v, "sheets") && strcmp(v, "long"))
        return fail(param, plen, "layout", msg, mlen, "expected sheets or long");
    s->long_table = v && !strcmp(v, "long");
    const char *lang = get(ud, "lang");
    if (lang && strcmp(lang, "vi") && strcmp(lang, "en"))
        return fail(param, plen, "lang", msg, mlen, "expected vi or en");
    if ((v = get(ud, "group")) && strlen(v) > 512)
        return fail(param, plen, "group", msg, mlen, "too long (at most 512 bytes)");
    if (v && strcmp(v, "*") && !(s->group = strdup(v)))
        return IOC_ENOMEM;
    if (!v && !(s->group = strdup("")))
        return IOC_ENOMEM;
    v = get(ud, "indicators");
    cJSON *ids = split_ids(v);
    if (v && *v && strcmp(v, "all") && !ids)
        return IOC_ENOMEM;
    int rc = rpt_spec_set_indicators(s, cfg, ids, lang && !strcmp(lang, "en"), msg, mlen);
    cJSON_Delete(ids);
    if (rc == IOC_ENOTFOUND)
        snprintf(param, plen, "indicators");
    if (rc == IOC_OK && s->ninds == 0)
        return fail(param, plen, "indicators", msg, mlen, "no indicators are configured");
    return rc == IOC_ENOTFOUND ? IOC_EINVAL : rc;
}

void rpt_spec_free(rpt_spec_t *s)
{
    for (size_t i = 0; i < s->ninds; i++) {
        free(s->inds[i].id);
        free(s->inds[i].name);
        free(s->inds[i].unit);
    }
    free(s->inds);
    free(s->group);
    memset(s, 0, sizeof *s);
}
