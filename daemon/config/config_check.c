/* Validation helpers: the key path, positioned error messages and typed getters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "ioc/error.h"

#define SUGGEST_MAX_LEN 64

void cfg_push_key(cfg_ctx_t *c, const char *key)
{
    if (c->depth < CFG_PATH_MAX)
        c->path[c->depth] = (cfg_seg_t){key, strlen(key), 0};
    c->depth++;
}

void cfg_push_index(cfg_ctx_t *c, size_t index)
{
    if (c->depth < CFG_PATH_MAX)
        c->path[c->depth] = (cfg_seg_t){NULL, 0, index};
    c->depth++;
}

void cfg_pop(cfg_ctx_t *c)
{
    c->depth--;
}

/* Writes the current path ("collectors[1].interval") into buf; "top level" when empty. */
static void format_path(const cfg_ctx_t *c, char *buf, size_t len)
{
    size_t used = 0;
    int n = c->depth < CFG_PATH_MAX ? c->depth : CFG_PATH_MAX;
    buf[0] = '\0';
    if (n == 0)
        snprintf(buf, len, "top level");
    for (int i = 0; i < n && used < len; i++) {
        int w;
        if (c->path[i].key)
            w = snprintf(buf + used, len - used, "%s%.*s", i ? "." : "", (int)c->path[i].keylen,
                         c->path[i].key);
        else
            w = snprintf(buf + used, len - used, "[%zu]", c->path[i].index);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int cfg_fail(cfg_ctx_t *c, cfg_at_t at, int nth, const char *fmt, ...)
{
    char path[256], msg[512];
    va_list ap;
    size_t off;
    int n = c->depth < CFG_PATH_MAX ? c->depth : CFG_PATH_MAX;
    bool want_value = at != CFG_AT_KEY;
    if (at == CFG_AT_PARENT && n > 0)
        n--;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_path(c, path, sizeof path);
    if (cfg_locate_off(c->text, c->len, c->path, n, want_value, nth, &off) == 0) {
        int line, col;
        cfg_linecol(c->text, c->len, off, &line, &col);
        snprintf(c->err, c->errlen, "%s:%d:%d: %s: %s", c->name, line, col, path, msg);
    } else {
        snprintf(c->err, c->errlen, "%s: %s: %s", c->name, path, msg);
    }
    return IOC_EINVAL;
}

/* Edit distance between a and b, or SIZE_MAX when either is too long to be a typo. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[SUGGEST_MAX_LEN + 1];
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known key closest to key if it is close enough to be a typo, else NULL. */
static const char *suggest(const char *key, const char *const *known)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; known[i]; i++) {
        size_t d = edit_distance(key, known[i]);
        if (d < best_d && d <= 2 && d * 2 < strlen(known[i])) {
            best = known[i];
            best_d = d;
        }
    }
    return best;
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

typedef struct keyref {
    const char *name;
    size_t pos;
} keyref_t;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref_t *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r != 0)
        return r;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Fails on the first key (in file order) that repeats an earlier one. Sorting keeps a huge
 * object from costing quadratic time. */
static int check_duplicates(cfg_ctx_t *c, const cJSON *obj)
{
    size_t n = (size_t)cJSON_GetArraySize(obj), i = 0, first = SIZE_MAX;
    const cJSON *it;
    int rc = 0;
    if (n < 2)
        return 0;
    keyref_t *refs = malloc(n * sizeof *refs);
    if (!refs) {
        snprintf(c->err, c->errlen, "%s: out of memory", c->name);
        return IOC_ENOMEM;
    }
    cJSON_ArrayForEach(it, obj) {
        refs[i] = (keyref_t){it->string ? it->string : "", i};
        i++;
    }
    qsort(refs, n, sizeof *refs, keyref_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(refs[i].name, refs[i - 1].name) == 0 && refs[i].pos < first)
            first = refs[i].pos;
    if (first != SIZE_MAX) {
        const cJSON *dup = cJSON_GetArrayItem(obj, (int)first);
        int nth = 0;
        cJSON_ArrayForEach(it, obj) {
            if (it == dup)
                break;
            nth += strcmp(it->string, dup->string) == 0;
        }
        cfg_push_key(c, dup->string);
        rc = cfg_fail(c, CFG_AT_KEY, nth, "duplicate key");
        cfg_pop(c);
    }
    free(refs);
    return rc;
}

int cfg_check_object(cfg_ctx_t *c, const cJSON *v, const char *const *known)
{
    const cJSON *it;
    if (!cJSON_IsObject(v))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected an object");
    if (known) {
        cJSON_ArrayForEach(it, v) {
            if (in_list(it->string, known))
                continue;
            const char *hint = suggest(it->string, known);
            cfg_push_key(c, it->string);
            if (hint)
                cfg_fail(c, CFG_AT_KEY, 0, "unknown key (did you mean \"%s\"?)", hint);
            else
                cfg_fail(c, CFG_AT_KEY, 0, "unknown key");
            cfg_pop(c);
            return IOC_EINVAL;
        }
    }
    return check_duplicates(c, v);
}

int cfg_require(cfg_ctx_t *c, const cJSON *obj, const char *key)
{
    int rc = 0;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return 0;
    cfg_push_key(c, key);
    rc = cfg_fail(c, CFG_AT_PARENT, 0, "required key missing");
    cfg_pop(c);
    return rc;
}

int cfg_get_string(cfg_ctx_t *c, const cJSON *obj, const char *key, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    int rc = 0;
    if (!v)
        return 0;
    cfg_push_key(c, key);
    if (!cJSON_IsString(v)) {
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "expected a string");
    } else if (v->valuestring[0] == '\0') {
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "must not be empty");
    } else {
        char *copy = strdup(v->valuestring);
        if (!copy) {
            snprintf(c->err, c->errlen, "%s: out of memory", c->name);
            rc = IOC_ENOMEM;
        } else {
            free(*out);
            *out = copy;
        }
    }
    cfg_pop(c);
    return rc;
}

int cfg_get_bool(cfg_ctx_t *c, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    int rc = 0;
    if (!v)
        return 0;
    cfg_push_key(c, key);
    if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "expected true or false");
    cfg_pop(c);
    return rc;
}

/* Checks that v is a whole number in [min, max] and stores it; fails at the current path. */
static int number_in_range(cfg_ctx_t *c, const cJSON *v, uint64_t min, uint64_t max,
                           uint64_t *out)
{
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return cfg_fail(c, CFG_AT_VALUE, 0, "expected a whole number");
    if (d < (double)min || d > (double)max)
        return cfg_fail(c, CFG_AT_VALUE, 0, "must be between %llu and %llu",
                        (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)d;
    return 0;
}

int cfg_get_uint(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                 uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    int rc;
    if (!v)
        return 0;
    cfg_push_key(c, key);
    if (cJSON_IsNumber(v))
        rc = number_in_range(c, v, min, max, out);
    else
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "expected a number");
    cfg_pop(c);
    return rc;
}

/* Writes a duration in the largest unit that divides it, e.g. "100ms", "60s", "1d". */
static const char *fmt_duration(uint64_t ms, char *buf, size_t len)
{
    if (ms != 0 && ms % 86400000 == 0)
        snprintf(buf, len, "%llud", (unsigned long long)(ms / 86400000));
    else if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
    return buf;
}

int cfg_get_duration(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                     bool zero_ok, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char b1[32], b2[32];
    uint64_t ms = 0;
    int rc = 0;
    if (!v)
        return 0;
    cfg_push_key(c, key);
    if (!cJSON_IsString(v) || config_parse_duration(v->valuestring, &ms) != 0)
        rc = cfg_fail(c, CFG_AT_VALUE, 0,
                      "expected a duration: a whole number with ms, s, m, h or d, e.g. \"10s\"");
    else if (ms == 0 && zero_ok)
        *out = 0;
    else if (ms < min)
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "must be at least %s", fmt_duration(min, b1, sizeof b1));
    else if (ms > max)
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "must be at most %s", fmt_duration(max, b2, sizeof b2));
    else
        *out = ms;
    cfg_pop(c);
    return rc;
}

int cfg_get_size(cfg_ctx_t *c, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                 uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    uint64_t n = 0;
    int rc = 0;
    if (!v)
        return 0;
    cfg_push_key(c, key);
    if (cJSON_IsNumber(v)) {
        rc = number_in_range(c, v, min, max, out);
    } else if (!cJSON_IsString(v) || config_parse_size(v->valuestring, &n) != 0) {
        rc = cfg_fail(c, CFG_AT_VALUE, 0,
                      "expected a size: bytes, or a whole number with B, KB, MB, GB, KiB, MiB or "
                      "GiB, e.g. \"1GiB\"");
    } else if (n < min || n > max) {
        rc = cfg_fail(c, CFG_AT_VALUE, 0, "must be between %llu and %llu bytes",
                      (unsigned long long)min, (unsigned long long)max);
    } else {
        *out = n;
    }
    cfg_pop(c);
    return rc;
}

bool cfg_role_valid(const char *role)
{
    static const char *const roles[] = {"viewer", "operator", "analyst", "admin", "writer", NULL};
    return role && in_list(role, roles);
}
