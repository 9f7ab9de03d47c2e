/* Batches of samples: growable arrays, a compact binary record format, and batch ids. */
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "ioc/error.h"

/* Record layout, all integers little-endian:
 *   u8 version (1) | u64 id | u32 nseries | nseries * (u32 len, metric, u32 len, tags)
 *   | u32 nsamples | nsamples * (u32 series, i64 ts_us, f64 value as its IEEE-754 bits) */
#define BATCH_FORMAT_VERSION 1
#define BATCH_SAMPLE_BYTES 20u
#define BATCH_STR_MAX (1u << 20)

batch_t *batch_new(uint64_t id)
{
    batch_t *b = calloc(1, sizeof *b);
    if (b)
        b->id = id;
    return b;
}

void batch_free(batch_t *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nseries; i++) {
        free(b->series[i].metric);
        free(b->series[i].tags_json);
    }
    free(b->series);
    free(b->samples);
    free(b);
}

/* Grows *arr (of *cap elements of size elem) to hold at least need elements. */
static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return IOC_OK;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > UINT32_MAX / 2)
            return IOC_ENOMEM;
        ncap *= 2;
    }
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return IOC_ENOMEM;
    *arr = p;
    *cap = ncap;
    return IOC_OK;
}

/* Adds a series taking lengths explicitly (strings need not be NUL-terminated). */
static int add_series_n(batch_t *b, const char *metric, size_t mlen, const char *tags, size_t tlen)
{
    if (b->nseries == INT32_MAX)
        return IOC_ENOMEM;
    if (grow((void **)&b->series, &b->series_cap, b->nseries + 1, sizeof *b->series))
        return IOC_ENOMEM;
    char *m = malloc(mlen + 1);
    char *t = malloc(tlen + 1);
    if (!m || !t) {
        free(m);
        free(t);
        return IOC_ENOMEM;
    }
    memcpy(m, metric, mlen);
    m[mlen] = '\0';
    memcpy(t, tags, tlen);
    t[tlen] = '\0';
    b->series[b->nseries].metric = m;
    b->series[b->nseries].tags_json = t;
    return (int)b->nseries++;
}

int batch_add_series(batch_t *b, const char *metric, const char *tags_json)
{
    return add_series_n(b, metric, strlen(metric), tags_json, strlen(tags_json));
}

int batch_add_sample(batch_t *b, uint32_t series, int64_t ts_us, double value)
{
    if (grow((void **)&b->samples, &b->samples_cap, b->nsamples + 1, sizeof *b->samples))
        return IOC_ENOMEM;
    b->samples[b->nsamples++] = (batch_sample_t){.series = series, .ts_us = ts_us, .value = value};
    return IOC_OK;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int put_str(strbuf_t *out, const char *s)
{
    size_t len = strlen(s);
    if (len > BATCH_STR_MAX)
        return IOC_ETOOBIG;
    uint8_t hdr[4];
    put_u32(hdr, (uint32_t)len);
    int rc = strbuf_append(out, hdr, sizeof hdr);
    return rc ? rc : strbuf_append(out, s, len);
}

int batch_encode(const batch_t *b, strbuf_t *out)
{
    uint8_t hdr[13];
    hdr[0] = BATCH_FORMAT_VERSION;
    put_u64(hdr + 1, b->id);
    put_u32(hdr + 9, b->nseries);
    int rc = strbuf_append(out, hdr, sizeof hdr);
    for (uint32_t i = 0; rc == 0 && i < b->nseries; i++) {
        rc = put_str(out, b->series[i].metric);
        if (rc == 0)
            rc = put_str(out, b->series[i].tags_json);
    }
    if (rc)
        return rc;
    uint8_t cnt[4];
    put_u32(cnt, b->nsamples);
    rc = strbuf_append(out, cnt, sizeof cnt);
    for (uint32_t i = 0; rc == 0 && i < b->nsamples; i++) {
        const batch_sample_t *s = &b->samples[i];
        uint8_t rec[BATCH_SAMPLE_BYTES];
        uint64_t bits;
        if (s->series >= b->nseries)
            return IOC_EINVAL;
        memcpy(&bits, &s->value, sizeof bits);
        put_u32(rec, s->series);
        put_u64(rec + 4, (uint64_t)s->ts_us);
        put_u64(rec + 12, bits);
        rc = strbuf_append(out, rec, sizeof rec);
    }
    return rc;
}

/* A bounds-checked reader over the record. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader_t;

static int rd_u32(reader_t *r, uint32_t *v)
{
    if (r->left < 4)
        return IOC_ECORRUPT;
    *v = get_u32(r->p);
    r->p += 4;
    r->left -= 4;
    return IOC_OK;
}

static int rd_u64(reader_t *r, uint64_t *v)
{
    if (r->left < 8)
        return IOC_ECORRUPT;
    *v = get_u64(r->p);
    r->p += 8;
    r->left -= 8;
    return IOC_OK;
}

/* Reads a length-prefixed string without a NUL inside; points into the record. */
static int rd_str(reader_t *r, const char **s, uint32_t *len)
{
    if (rd_u32(r, len) || *len > BATCH_STR_MAX || *len > r->left)
        return IOC_ECORRUPT;
    if (memchr(r->p, '\0', *len))
        return IOC_ECORRUPT;
    *s = (const char *)r->p;
    r->p += *len;
    r->left -= *len;
    return IOC_OK;
}

int batch_decode(const void *data, size_t len, batch_t **out)
{
    reader_t r = {.p = data, .left = len};
    batch_t *b = NULL;
    uint64_t id;
    uint32_t nseries, nsamples;
    int rc = IOC_ECORRUPT;

    *out = NULL;
    if (len < 1 || r.p[0] != BATCH_FORMAT_VERSION)
        goto out;
    r.p++;
    r.left--;
    if (rd_u64(&r, &id) || rd_u32(&r, &nseries))
        goto out;
    /* Every series takes at least 8 bytes: refuse counts the record cannot hold. */
    if (nseries > r.left / 8)
        goto out;
    b = batch_new(id);
    if (!b) {
        rc = IOC_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < nseries; i++) {
        const char *m, *t;
        uint32_t mlen, tlen;
        if (rd_str(&r, &m, &mlen) || rd_str(&r, &t, &tlen))
            goto out;
        int idx = add_series_n(b, m, mlen, t, tlen);
        if (idx < 0) {
            rc = idx;
            goto out;
        }
    }
    if (rd_u32(&r, &nsamples) || r.left != (size_t)nsamples * BATCH_SAMPLE_BYTES)
        goto out;
    if (nsamples) {
        b->samples = malloc((size_t)nsamples * sizeof *b->samples);
        if (!b->samples) {
            rc = IOC_ENOMEM;
            goto out;
        }
        b->samples_cap = nsamples;
    }
    for (uint32_t i = 0; i < nsamples; i++) {
        batch_sample_t *s = &b->samples[i];
        uint64_t bits = get_u64(r.p + 12);
        s->series = get_u32(r.p);
        s->ts_us = (int64_t)get_u64(r.p + 4);
        memcpy(&s->value, &bits, sizeof bits);
        if (s->series >= nseries)
            goto out;
        r.p += BATCH_SAMPLE_BYTES;
        b->nsamples++;
    }
    *out = b;
    b = NULL;
    rc = IOC_OK;
out:
    batch_free(b);
    return rc;
}
