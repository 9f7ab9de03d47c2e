/* Bounded chunks of samples, with an arena for the strings made while mapping them. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hj.h"

#define CHUNK 256
#define ARENA ((HJ_MAX_TAGS + 2) * (HJ_MAX_NAME + 1) * 8) /* fits one sample's strings 8 times */

struct hj_emitter {
    hj_sink_fn sink;
    void *ud;
    int64_t default_ts_us;
    hj_map_stats_t *st;
    int status;
    size_t n, used;
    ioc_sample_t samples[CHUNK];
    ioc_tag_t tags[CHUNK][HJ_MAX_TAGS + 1];
    char arena[ARENA];
};

hj_emitter_t *hj_emit_new(hj_sink_fn sink, void *ud, int64_t default_ts_us, hj_map_stats_t *st)
{
    hj_emitter_t *em = malloc(sizeof *em);
    if (!em)
        return NULL;
    em->sink = sink;
    em->ud = ud;
    em->default_ts_us = default_ts_us;
    em->st = st;
    em->status = IOC_OK;
    em->n = 0;
    em->used = 0;
    return em;
}

void hj_emit_free(hj_emitter_t *em)
{
    free(em);
}

int64_t hj_emit_default_ts(const hj_emitter_t *em)
{
    return em->default_ts_us;
}

int hj_name_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    if (n == 0 || n > HJ_MAX_NAME)
        return 0;
    while (p < end) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || (size_t)(end - p) < len || c == 0xc0 || c == 0xc1 || c > 0xf4)
            return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += len;
    }
    return 1;
}

const char *hj_tag_value(const cJSON *node, char buf[HJ_NUM_LEN])
{
    if (cJSON_IsString(node))
        return hj_name_ok(node->valuestring, strlen(node->valuestring)) ? node->valuestring : NULL;
    if (cJSON_IsBool(node))
        return cJSON_IsTrue(node) ? "true" : "false";
    if (!cJSON_IsNumber(node) || !isfinite(node->valuedouble))
        return NULL;
    double v = node->valuedouble;
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, HJ_NUM_LEN, "%lld", (long long)v);
    else
        snprintf(buf, HJ_NUM_LEN, "%.17g", v);
    return buf;
}

int hj_emit_flush(hj_emitter_t *em)
{
    if (em->status == IOC_OK && em->n > 0)
        em->status = em->sink(em->ud, em->samples, em->n);
    em->n = 0;
    em->used = 0;
    return em->status;
}

/* Copies s into the arena (the caller checked there is room). */
static const char *arena_copy(hj_emitter_t *em, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst = em->arena + em->used;
    memcpy(dst, s, n);
    em->used += n;
    return dst;
}

int hj_emit_add(hj_emitter_t *em, const char *metric, const ioc_tag_t *tags, size_t ntags,
                double value, int64_t ts_us)
{
    size_t need = strlen(metric) + 1;
    if (em->status != IOC_OK)
        return em->status;
    if (!isfinite(value)) {
        hj_emit_skip(em, "%s: value is not a finite number", metric);
        return IOC_OK;
    }
    for (size_t t = 0; t < ntags; t++)
        need += strlen(tags[t].value) + 1;
    if ((em->n == CHUNK || need > ARENA - em->used) && hj_emit_flush(em) != IOC_OK)
        return em->status;
    size_t i = em->n++;
    for (size_t t = 0; t < ntags; t++)
        em->tags[i][t] = (ioc_tag_t){.key = tags[t].key, .value = arena_copy(em, tags[t].value)};
    em->samples[i] = (ioc_sample_t){.metric = arena_copy(em, metric), .tags = em->tags[i],
                                    .ntags = ntags, .value = value, .ts_us = ts_us};
    em->st->samples++;
    return IOC_OK;
}

void hj_emit_skip(hj_emitter_t *em, const char *fmt, ...)
{
    if (em->st->skipped++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(em->st->first_skip, sizeof em->st->first_skip, fmt, ap);
        va_end(ap);
    }
}
