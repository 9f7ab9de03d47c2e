/* Validation of a probe instance's configuration: options, targets and targets_file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "probe.h"
#include "../common/plugin_config.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DEFAULT_INTERVAL_MS 10000u
#define HOST_TIMEOUT_CAP_MS 60000u
#define DEFAULT_TARGET_TIMEOUT_MS 3000u
#define DNS_TTL_MS 60000u

static const char *const host_keys[] = {"plugin", "name", "interval", "timeout", "enabled"};


/* Where a target came from, for error messages about it after parsing (duplicates). */
typedef struct origin {
    const char *file; /* NULL: config `targets` */
    size_t n;         /* index in targets, or line in the file */
} origin_t;

static void where_of(const origin_t *o, char *out, size_t outlen)
{
    if (o->file)
        snprintf(out, outlen, "targets_file: %.900s:%zu: ", o->file, o->n);
    else
        snprintf(out, outlen, "targets[%zu].", o->n);
}


/* The round budget: 90% of the host's collect timeout (default: the interval, at most 60 s),
 * so a round ends, and says what it skipped, before the host gives up on it. */
static int round_budget(const cJSON *obj, uint64_t *ms, char *err, size_t errlen)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(obj, "interval");
    uint64_t host_ms = DEFAULT_INTERVAL_MS;
    if (cJSON_IsString(iv) && plugin_parse_duration(iv->valuestring, &host_ms) != 0)
        host_ms = DEFAULT_INTERVAL_MS;
    if (host_ms > HOST_TIMEOUT_CAP_MS)
        host_ms = HOST_TIMEOUT_CAP_MS;
    if (t && (!cJSON_IsString(t) || plugin_parse_duration(t->valuestring, &host_ms) != 0)) {
        snprintf(err, errlen, "timeout: must be a duration such as \"10s\"");
        return IOC_EINVAL;
    }
    *ms = host_ms - host_ms / 10;
    if (*ms == 0)
        *ms = 1;
    return IOC_OK;
}

/* Checks a tags object: string values, 1-256 bytes, not the reserved keys. */
static int check_tags(const cJSON *obj, const char *where, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%stags: must be an object of string values", where);
        return IOC_EINVAL;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!it->string[0] || strlen(it->string) > PROBE_MAX_TAG_LEN) {
            snprintf(err, errlen, "%stags: keys are 1 to 256 bytes", where);
            return IOC_EINVAL;
        }
        if (strcmp(it->string, "target") == 0 || strcmp(it->string, "kind") == 0) {
            snprintf(err, errlen, "%stags.%s: is set by the probe (the target's name and kind)",
                     where, it->string);
            return IOC_EINVAL;
        }
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) > PROBE_MAX_TAG_LEN) {
            snprintf(err, errlen, "%stags.%.64s: must be a string of 1 to 256 bytes", where,
                     it->string);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

/* target=<name>, kind=<kind>, the target's own tags, then the instance tags it does not set;
 * the array and its strings are one allocation (t->tags), so 100,000 targets stay small. */
static int build_tags(probe_target_t *t, const cJSON *own, const cJSON *common, const char *where,
                      char *err, size_t errlen)
{
    const char *kv[PROBE_MAX_TAGS][2] = {{"target", t->name}, {"kind", probe_kind_name(t->kind)}};
    size_t n = 2, bytes = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (const cJSON *it = pass ? (common ? common->child : NULL) : (own ? own->child : NULL);
             it; it = it->next) {
            if (pass && own && cJSON_GetObjectItemCaseSensitive(own, it->string))
                continue;
            if (n == PROBE_MAX_TAGS) {
                snprintf(err, errlen, "%stags: too many (at most %d with target and kind)", where,
                         PROBE_MAX_TAGS);
                return IOC_EINVAL;
            }
            kv[n][0] = it->string;
            kv[n][1] = it->valuestring;
            n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        bytes += strlen(kv[i][0]) + strlen(kv[i][1]) + 2;
    t->tags = malloc(n * sizeof *t->tags + bytes);
    if (!t->tags) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    char *p = (char *)(t->tags + n);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(kv[i][k]) + 1;
            memcpy(p, kv[i][k], len);
            if (k)
                t->tags[i].value = p;
            else
                t->tags[i].key = p;
            p += len;
        }
    }
    t->ntags = n;
    return IOC_OK;
}

static int parse_expect(const cJSON *it, probe_target_t *t, const char *where, char *err,
                        size_t errlen)
{
    const cJSON *one = cJSON_IsArray(it) ? it->child : it;
    int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
    if (t->kind == PROBE_TCP) {
        snprintf(err, errlen, "%sexpect_status: only for http and rtsp targets", where);
        return IOC_EINVAL;
    }
    if (n < 1 || n > PROBE_MAX_EXPECT)
        goto bad;
    for (; one; one = cJSON_IsArray(it) ? one->next : NULL) {
        if (!cJSON_IsNumber(one) || one->valuedouble < 100 || one->valuedouble > 599 ||
            one->valuedouble != (double)(int)one->valuedouble)
            goto bad;
        t->expect[t->nexpect++] = (int)one->valuedouble;
    }
    return IOC_OK;
bad:
    snprintf(err, errlen, "%sexpect_status: must be a status code (100-599) or an array of 1 to "
             "%d of them", where, PROBE_MAX_EXPECT);
    return IOC_EINVAL;
}

/* Parses one target object; where is "targets[3]." or "targets_file: f:12: ". */
static int parse_target(const cJSON *obj, const cJSON *common, const char *where,
                        probe_target_t *t, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "kind", "address", "path", "expect_status", "tags"};
    char why[200];
    int rc;
    if (!cJSON_IsObject(obj)) {
        size_t n = strlen(where);
        while (n && (where[n - 1] == '.' || where[n - 1] == ' ' || where[n - 1] == ':'))
            n--;
        snprintf(err, errlen, "%.*s: must be an object with kind and address", (int)n, where);
        return IOC_EINVAL;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!plugin_in_list(it->string, keys, NELEM(keys))) {
            snprintf(err, errlen, "%sunknown key \"%.64s\" (known: name, kind, address, path, "
                     "expect_status, tags)", where, it->string);
            return IOC_EINVAL;
        }
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(obj, "address");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(obj, "path");
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(obj, "expect_status");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(obj, "tags");
    t->kind = PROBE_TCP;
    if (kind) {
        if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "tcp") != 0 &&
                                      strcmp(kind->valuestring, "http") != 0 &&
                                      strcmp(kind->valuestring, "rtsp") != 0)) {
            snprintf(err, errlen, "%skind: must be \"tcp\", \"http\" or \"rtsp\"", where);
            return IOC_EINVAL;
        }
        t->kind = kind->valuestring[0] == 'h' ? PROBE_HTTP
                  : kind->valuestring[0] == 'r' ? PROBE_RTSP : PROBE_TCP;
    }
    if (!cJSON_IsString(addr)) {
        snprintf(err, errlen, "%saddress: is required (e.g. \"10.0.0.5:554\")", where);
        return IOC_EINVAL;
    }
    rc = probe_address_parse(addr->valuestring, t->kind, t, why, sizeof why);
    if (rc != IOC_OK) {
        snprintf(err, errlen, "%saddress: %s", where, why);
        return rc;
    }
    if (name && (!cJSON_IsString(name) || !name->valuestring[0] ||
                 strlen(name->valuestring) > PROBE_MAX_TAG_LEN)) {
        snprintf(err, errlen, "%sname: must be a string of 1 to 256 bytes", where);
        return IOC_EINVAL;
    }
    t->name = strdup(name ? name->valuestring : addr->valuestring);
    if (!t->name) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    if (path && (!cJSON_IsString(path) || t->kind == PROBE_TCP)) {
        snprintf(err, errlen, "%spath: %s", where, t->kind == PROBE_TCP
                 ? "only for http and rtsp targets" : "must be a string such as \"/\"");
        return IOC_EINVAL;
    }
    rc = probe_request_build(t, path ? path->valuestring : "/", why, sizeof why);
    if (rc != IOC_OK) {
        snprintf(err, errlen, "%spath: %s", where, why);
        return rc;
    }
    if (expect && (rc = parse_expect(expect, t, where, err, errlen)) != IOC_OK)
        return rc;
    if (tags && (rc = check_tags(tags, where, err, errlen)) != IOC_OK)
        return rc;
    return build_tags(t, tags, common, where, err, errlen);
}

/* Appends a zeroed target slot, growing the arrays; returns it or NULL when out of memory. */
static probe_target_t *push_target(probe_config_t *cfg, origin_t **origins, size_t *cap,
                                   origin_t o)
{
    if (cfg->ntargets == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        probe_target_t *t = realloc(cfg->targets, ncap * sizeof *t);
        if (!t)
            return NULL;
        cfg->targets = t;
        origin_t *og = realloc(*origins, ncap * sizeof *og);
        if (!og)
            return NULL;
        *origins = og;
        *cap = ncap;
    }
    (*origins)[cfg->ntargets] = o;
    probe_target_t *t = &cfg->targets[cfg->ntargets++];
    memset(t, 0, sizeof *t);
    return t;
}

static int too_many(char *err, size_t errlen, const char *key)
{
    snprintf(err, errlen, "%s: more than %d targets in all", key, PROBE_MAX_TARGETS);
    return IOC_EINVAL;
}

static int parse_targets(const cJSON *arr, const cJSON *common, probe_config_t *cfg,
                         origin_t **origins, size_t *cap, char *err, size_t errlen)
{
    char where[64];
    size_t i = 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "targets: must be an array of {kind, address, ...}");
        return IOC_EINVAL;
    }
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (cfg->ntargets >= PROBE_MAX_TARGETS)
            return too_many(err, errlen, "targets");
        probe_target_t *t = push_target(cfg, origins, cap, (origin_t){NULL, i});
        if (!t) {
            snprintf(err, errlen, "out of memory");
            return IOC_ENOMEM;
        }
        snprintf(where, sizeof where, "targets[%zu].", i);
        int rc = parse_target(it, common, where, t, err, errlen);
        if (rc != IOC_OK)
            return rc;
    }
    return IOC_OK;
}

/* Reads targets_file: one JSON target object per line; blank lines and '#' lines skipped. */
static int parse_file(const char *path, const cJSON *common, probe_config_t *cfg,
                      origin_t **origins, size_t *cap, char *err, size_t errlen)
{
    char where[1024];
    char *line = NULL;
    size_t linecap = 0, lineno = 0, total = 0;
    ssize_t n;
    int rc = IOC_OK;
    struct stat sb;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "targets_file: %.900s: %s", path, strerror(errno));
        return IOC_EINVAL;
    }
    /* checked first so that one huge line is never read into memory */
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > PROBE_MAX_FILE) {
        snprintf(err, errlen, "targets_file: %.900s: must be a regular file of at most 64 MiB",
                 path);
        fclose(f);
        return IOC_EINVAL;
    }
    while ((n = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        total += (size_t)n;
        snprintf(where, sizeof where, "targets_file: %.900s:%zu: ", path, lineno);
        if (total > PROBE_MAX_FILE || (size_t)n > PROBE_MAX_LINE) {
            snprintf(err, errlen, "%s%s", where, total > PROBE_MAX_FILE
                     ? "the file grew over 64 MiB while being read" : "line over 64 KiB");
            rc = IOC_EINVAL;
            goto out;
        }
        const char *s = line + strspn(line, " \t\r\n");
        if (*s == '\0' || *s == '#')
            continue;
        if (cfg->ntargets >= PROBE_MAX_TARGETS) {
            rc = too_many(err, errlen, "targets_file");
            goto out;
        }
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithOpts(s, &end, false);
        if (obj)
            end += strspn(end, " \t\r\n");
        if (!obj || *end != '\0') {
            snprintf(err, errlen, "%snot one JSON object (column %zu)", where,
                     (size_t)((obj ? end : cJSON_GetErrorPtr()) - line) + 1);
            cJSON_Delete(obj);
            rc = IOC_EINVAL;
            goto out;
        }
        probe_target_t *t = push_target(cfg, origins, cap, (origin_t){path, lineno});
        rc = t ? parse_target(obj, common, where, t, err, errlen) : IOC_ENOMEM;
        if (!t)
            snprintf(err, errlen, "out of memory");
        cJSON_Delete(obj);
        if (rc != IOC_OK)
            goto out;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "targets_file: %.900s: read error", path);
        rc = IOC_EINVAL;
    }
out:
    free(line);
    fclose(f);
    return rc;
}

typedef struct name_ref {
    const char *name;
    size_t idx;
} name_ref_t;

static int cmp_name(const void *a, const void *b)
{
    const name_ref_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Target names are series identities: each may appear once. Sorting keeps it O(n log n). */
static int check_unique(const probe_config_t *cfg, const origin_t *origins, char *err,
                        size_t errlen)
{
    char w1[1024], w2[1024];
    int rc = IOC_OK;
    name_ref_t *refs = malloc(cfg->ntargets * sizeof *refs);
    if (!refs) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    for (size_t i = 0; i < cfg->ntargets; i++)
        refs[i] = (name_ref_t){cfg->targets[i].name, i};
    qsort(refs, cfg->ntargets, sizeof *refs, cmp_name);
    for (size_t i = 1; i < cfg->ntargets; i++) {
        if (strcmp(refs[i].name, refs[i - 1].name) == 0) {
            where_of(&origins[refs[i].idx], w1, sizeof w1);
            where_of(&origins[refs[i - 1].idx], w2, sizeof w2);
            w2[strlen(w2) - (origins[refs[i - 1].idx].file ? 2 : 1)] = '\0';
            snprintf(err, errlen, "%sname: \"%.256s\" is already the name of %.900s", w1,
                     refs[i].name, w2);
            rc = IOC_EINVAL;
            break;
        }
    }
    free(refs);
    return rc;
}

static int parse_options(const cJSON *obj, probe_config_t *out, char *err, size_t errlen)
{
    const cJSON *conc = cJSON_GetObjectItemCaseSensitive(obj, "concurrency");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(obj, "target_timeout");
    int rc = round_budget(obj, &out->round_ms, err, errlen);
    if (rc != IOC_OK)
        return rc;
    if (conc) {
        if (!cJSON_IsNumber(conc) || conc->valuedouble < 1 ||
            conc->valuedouble > PROBE_MAX_CONCURRENCY ||
            conc->valuedouble != (double)(int)conc->valuedouble) {
            snprintf(err, errlen, "concurrency: must be a whole number from 1 to %d",
                     PROBE_MAX_CONCURRENCY);
            return IOC_EINVAL;
        }
        out->concurrency = (unsigned)conc->valuedouble;
    }
    /* Room for at least two waves of probes that all time out. */
    out->target_timeout_ms = DEFAULT_TARGET_TIMEOUT_MS < out->round_ms / 2
                                 ? DEFAULT_TARGET_TIMEOUT_MS : out->round_ms / 2;
    if (out->target_timeout_ms == 0)
        out->target_timeout_ms = 1;
    if (tt) {
        if (!cJSON_IsString(tt) || plugin_parse_duration(tt->valuestring, &out->target_timeout_ms) != 0 ||
            out->target_timeout_ms < 10 || out->target_timeout_ms > 600000) {
            snprintf(err, errlen, "target_timeout: must be a duration from \"10ms\" to \"10m\"");
            return IOC_EINVAL;
        }
        if (out->target_timeout_ms > out->round_ms) {
            snprintf(err, errlen, "target_timeout: %llums is more than a round may take (%llums: "
                     "90%% of the collector's timeout)", (unsigned long long)out->target_timeout_ms,
                     (unsigned long long)out->round_ms);
            return IOC_EINVAL;
        }
    }
    return IOC_OK;
}

int probe_config_parse(const cJSON *obj, probe_config_t *out, char *err, size_t errlen)
{
    static const char *const own_keys[] = {"targets", "targets_file", "tags", "concurrency",
                                           "target_timeout"};
    origin_t *origins = NULL;
    size_t cap = 0;
    int rc = IOC_EINVAL;
    memset(out, 0, sizeof *out);
    out->concurrency = PROBE_DEFAULT_CONCURRENCY;
    out->dns_ttl_ms = DNS_TTL_MS;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "collector config: must be an object");
        goto out;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!plugin_in_list(it->string, host_keys, NELEM(host_keys)) &&
            !plugin_in_list(it->string, own_keys, NELEM(own_keys))) {
            snprintf(err, errlen, "unknown key \"%.64s\" (known: targets, targets_file, tags, "
                     "concurrency, target_timeout)", it->string);
            goto out;
        }
    }
    if ((rc = parse_options(obj, out, err, errlen)) != IOC_OK)
        goto out;
    const cJSON *common = cJSON_GetObjectItemCaseSensitive(obj, "tags");
    if (common && (rc = check_tags(common, "", err, errlen)) != IOC_OK)
        goto out;
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(obj, "targets");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(obj, "targets_file");
    if (targets) {
        rc = parse_targets(targets, common, out, &origins, &cap, err, errlen);
        if (rc != IOC_OK)
            goto out;
    }
    if (file) {
        rc = IOC_EINVAL;
        if (!cJSON_IsString(file) || !file->valuestring[0]) {
            snprintf(err, errlen, "targets_file: must be a path");
            goto out;
        }
        rc = parse_file(file->valuestring, common, out, &origins, &cap, err, errlen);
        if (rc != IOC_OK)
            goto out;
    }
    rc = IOC_EINVAL;
    if (out->ntargets == 0) {
        snprintf(err, errlen, "targets: at least one target is required (in targets or "
                 "targets_file)");
        goto out;
    }
    rc = check_unique(out, origins, err, errlen);
out:
    free(origins);
    if (rc != IOC_OK)
        probe_config_free(out);
    return rc;
}

void probe_config_free(probe_config_t *cfg)
{
    for (size_t i = 0; i < cfg->ntargets; i++)
        probe_target_free(&cfg->targets[i]);
    free(cfg->targets);
    memset(cfg, 0, sizeof *cfg);
}
