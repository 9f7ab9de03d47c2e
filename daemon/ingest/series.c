/* The series registry: canonical series keys (metric + sorted tags) interned once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/series.h"
#include "ingest/utf8.h"

#define MAX_NAME 256
#define MAX_TAGS 64
#define MAX_KEY (MAX_NAME * (2 * MAX_TAGS + 1) * 2 + 64)

void series_registry_init(series_registry_t *r, size_t max_series)
{
    memset(r, 0, sizeof *r);
    hashmap_init(&r->map);
    r->max_series = max_series;
}

void series_registry_free(series_registry_t *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->all[i]->key);
        free(r->all[i]->metric);
        free(r->all[i]);
    }
    free(r->all);
    hashmap_free(&r->map);
    memset(r, 0, sizeof *r);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

/* Appends s as a JSON string (quoted, escaped); returns the new offset or -1 if out is too small. */
static long put_json_string(char *out, size_t outlen, size_t o, const char *s)
{
    if (o + 1 >= outlen)
        return -1;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        size_t n;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            n = 2;
        } else if (*p < 0x20) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            n = 1;
        }
        if (o + n + 1 >= outlen)
            return -1;
        memcpy(out + o, esc, n);
        o += n;
    }
    if (o + 1 >= outlen)
        return -1;
    out[o++] = '"';
    return (long)o;
}

int series_tags_json(const ioc_tag_t *tags, size_t ntags, char *out, size_t outlen)
{
    ioc_tag_t sorted[MAX_TAGS];
    if (ntags > MAX_TAGS || outlen < 3)
        return IOC_ETOOBIG;
    if (ntags) {
        memcpy(sorted, tags, ntags * sizeof *tags);
        qsort(sorted, ntags, sizeof *sorted, cmp_tag);
    }
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < ntags; i++) {
        if (i)
            out[o++] = ',';
        long n = put_json_string(out, outlen, o, sorted[i].key);
        if (n < 0 || (size_t)n + 1 >= outlen)
            return IOC_ETOOBIG;
        o = (size_t)n;
        out[o++] = ':';
        n = put_json_string(out, outlen, o, sorted[i].value);
        if (n < 0 || (size_t)n + 2 >= outlen)
            return IOC_ETOOBIG;
        o = (size_t)n;
    }
    out[o++] = '}';
    out[o] = '\0';
    return IOC_OK;
}

static int check_name(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0) {
        snprintf(err, errlen, "%s is empty", what);
        return IOC_EINVAL;
    }
    if (n > MAX_NAME) {
        snprintf(err, errlen, "%s is longer than %d bytes", what, MAX_NAME);
        return IOC_EINVAL;
    }
    if (!utf8_valid(s, n)) {
        snprintf(err, errlen, "%s is not valid UTF-8", what);
        return IOC_EINVAL;
    }
    return IOC_OK;
}

static int validate(const ioc_sample_t *s, char *err, size_t errlen)
{
    int rc = check_name("metric", s->metric, err, errlen);
    if (rc)
        return rc;
    if (!isfinite(s->value)) {
        snprintf(err, errlen, "value of %s is not a finite number", s->metric);
        return IOC_EINVAL;
    }
    if (s->ntags > MAX_TAGS) {
        snprintf(err, errlen, "%zu tags, at most %d", s->ntags, MAX_TAGS);
        return IOC_EINVAL;
    }
    for (size_t i = 0; i < s->ntags; i++) {
        if ((rc = check_name("tag key", s->tags[i].key, err, errlen)) ||
            (rc = check_name("tag value", s->tags[i].value, err, errlen)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->tags[i].key, s->tags[j].key) == 0) {
                snprintf(err, errlen, "duplicate tag key \"%s\"", s->tags[i].key);
                return IOC_EINVAL;
            }
        }
    }
    return IOC_OK;
}

int series_intern(series_registry_t *r, const ioc_sample_t *s, series_t **out, char *err,
                  size_t errlen)
{
    int rc = validate(s, err, errlen);
    if (rc)
        return rc;
    char key[MAX_KEY];
    size_t mlen = strlen(s->metric);
    memcpy(key, s->metric, mlen);
    key[mlen] = '\x1f';
    rc = series_tags_json(s->tags, s->ntags, key + mlen + 1, sizeof key - mlen - 1);
    if (rc) {
        snprintf(err, errlen, "tags too long");
        return IOC_EINVAL;
    }
    series_t *se = hashmap_get(&r->map, key);
    if (se) {
        *out = se;
        return IOC_OK;
    }
    if (r->count >= r->max_series) {
        snprintf(err, errlen, "series limit %zu reached", r->max_series);
        return IOC_EFULL;
    }
    if (r->count == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        series_t **p = realloc(r->all, ncap * sizeof *p);
        if (!p)
            return IOC_ENOMEM;
        r->all = p;
        r->cap = ncap;
    }
    se = calloc(1, sizeof *se);
    if (!se || !(se->key = strdup(key)) || !(se->metric = strdup(s->metric)) ||
        hashmap_put(&r->map, se->key, se)) {
        if (se) {
            free(se->key);
            free(se->metric);
        }
        free(se);
        return IOC_ENOMEM;
    }
    se->tags_json = se->key + mlen + 1;
    se->batch_gen = 0;
    r->all[r->count++] = se;
    *out = se;
    return IOC_OK;
}
