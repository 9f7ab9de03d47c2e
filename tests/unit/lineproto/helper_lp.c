/* Test helpers for the line protocol parser: a sample recorder and base64 decoding. */
#include <stdlib.h>
#include <string.h>

#include "helper_lp.h"

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        abort();
    return q;
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

char *got_series(const char *metric, const ioc_tag_t *tags, size_t ntags)
{
    ioc_tag_t *sorted = xrealloc(NULL, (ntags + 1) * sizeof *sorted);
    size_t len = strlen(metric) + 3;
    memcpy(sorted, tags, ntags * sizeof *sorted);
    qsort(sorted, ntags, sizeof *sorted, tag_cmp);
    for (size_t i = 0; i < ntags; i++)
        len += strlen(sorted[i].key) + strlen(sorted[i].value) + 2;
    char *s = xrealloc(NULL, len);
    strcpy(s, metric);
    strcat(s, "{");
    for (size_t i = 0; i < ntags; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, sorted[i].key);
        strcat(s, "=");
        strcat(s, sorted[i].value);
    }
    strcat(s, "}");
    free(sorted);
    return s;
}

int got_fn(void *ud, const ioc_sample_t *samples, size_t n)
{
    got_t *g = ud;
    g->calls++;
    for (size_t i = 0; i < n; i++) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 16;
            g->s = xrealloc(g->s, g->cap * sizeof *g->s);
        }
        g->s[g->n++] = (got_sample_t){
            .series = got_series(samples[i].metric, samples[i].tags, samples[i].ntags),
            .value = samples[i].value,
            .ts_us = samples[i].ts_us};
    }
    return g->stop_after && g->calls == g->stop_after;
}

void got_free(got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->s[i].series);
    free(g->s);
    memset(g, 0, sizeof *g);
}

long got_find(const got_t *g, const char *series)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->s[i].series, series) == 0)
            return (long)i;
    return -1;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

char *b64_decode(const char *in, size_t *len)
{
    size_t n = strlen(in), o = 0;
    char *out = xrealloc(NULL, n / 4 * 3 + 4);
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n && in[i] != '='; i++) {
        int v = b64_val(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}
