/* A recording sink for http_json mapping tests: keeps a copy of every sample it is handed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_rec.h"

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

int rec_sink(void *ud, const ioc_sample_t *samples, size_t n)
{
    rec_t *r = ud;
    r->calls++;
    if (n > r->max_chunk)
        r->max_chunk = n;
    if (r->refuse_at > 0 && r->calls >= (size_t)r->refuse_at)
        return IOC_EFULL;
    if (r->n + n > r->cap) {
        r->cap = (r->n + n) * 2;
        r->s = realloc(r->s, r->cap * sizeof *r->s);
        assert_non_null(r->s);
    }
    for (size_t i = 0; i < n; i++) {
        const ioc_sample_t *s = &samples[i];
        rec_sample_t *o = &r->s[r->n++];
        ioc_tag_t tags[32];
        assert_true(s->ntags <= 32);
        memcpy(tags, s->tags, s->ntags * sizeof *tags);
        qsort(tags, s->ntags, sizeof *tags, cmp_tag);
        assert_true(strlen(s->metric) < sizeof o->metric);
        strcpy(o->metric, s->metric);
        o->tags[0] = '\0';
        for (size_t t = 0; t < s->ntags; t++) {
            size_t used = strlen(o->tags);
            snprintf(o->tags + used, sizeof o->tags - used, "%s%s=%s", t ? "," : "", tags[t].key,
                     tags[t].value);
        }
        o->value = s->value;
        o->ts_us = s->ts_us;
    }
    return IOC_OK;
}

void rec_free(rec_t *r)
{
    free(r->s);
    memset(r, 0, sizeof *r);
}

const rec_sample_t *rec_find(const rec_t *r, const char *metric, const char *tags)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->s[i].metric, metric) == 0 && strcmp(r->s[i].tags, tags) == 0)
            return &r->s[i];
    return NULL;
}

char *rec_fixture(const char *rel, size_t *len)
{
    const char *dir = getenv("IOCD_FIXTURES");
    char path[4096];
    if (!dir)
        fail_msg("IOCD_FIXTURES is not set: run this test through ctest");
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

cJSON *rec_map_cfg(const char *json, hj_map_cfg_t *cfg)
{
    char err[256] = "";
    cJSON *obj = cJSON_Parse(json);
    if (!obj)
        fail_msg("test config is not JSON: %s", json);
    if (hj_map_config_parse(obj, cfg, err, sizeof err) != IOC_OK)
        fail_msg("mapping config refused: %s", err);
    return obj;
}
