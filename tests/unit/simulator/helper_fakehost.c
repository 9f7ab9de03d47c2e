/* A fake collector host for plugin tests: loads a .so, records what the plugin emits. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "helper_fakehost.h"

static void fh_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_log, sizeof h->last_log, fmt, ap);
    va_end(ap);
    (void)level;
}

static int copy_str(char *dst, size_t len, const char *src)
{
    if (!src || !*src || strlen(src) >= len)
        return -1;
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

/* Copies one sample; returns -1 if it breaks the ABI's rules (empty strings, no metric). */
static int record(ioc_host_t *h, const ioc_sample_t *s, fh_sample_t *out)
{
    memset(out, 0, sizeof *out);
    if (copy_str(out->metric, sizeof out->metric, s->metric) != 0 || (s->ntags && !s->tags))
        return -1;
    for (size_t i = 0; i < s->ntags; i++) {
        const ioc_tag_t *t = &s->tags[i];
        if (!t->key || !*t->key || !t->value || !*t->value)
            return -1;
        if (strcmp(t->key, "district") == 0 && copy_str(out->district, sizeof out->district, t->value) != 0)
            return -1;
        if (strcmp(t->key, "id") == 0 && copy_str(out->id, sizeof out->id, t->value) != 0)
            return -1;
    }
    out->value = s->value;
    out->ts_us = s->ts_us;
    (void)h;
    return 0;
}

static int fh_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    h->emit_calls++;
    if (n > h->max_chunk)
        h->max_chunk = n;
    if (h->full_at_call > 0 && h->emit_calls >= (size_t)h->full_at_call)
        return IOC_EFULL;
    if (h->nsamples + n > h->cap) {
        size_t cap = (h->nsamples + n) * 2;
        fh_sample_t *p = realloc(h->samples, cap * sizeof *p);
        if (!p)
            return IOC_ENOMEM;
        h->samples = p;
        h->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (record(h, &samples[i], &h->samples[h->nsamples]) != 0) {
            h->malformed++;
            return IOC_EINVAL;
        }
        h->nsamples++;
    }
    return IOC_OK;
}

static void fh_collect_done(ioc_host_t *h, int status)
{
    h->done_calls++;
    h->done_status = status;
}

static uv_loop_t *fh_loop(ioc_host_t *h)
{
    return &h->loop;
}

static const cJSON *fh_config(ioc_host_t *h)
{
    return h->config;
}

static const char *fh_name(ioc_host_t *h)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(h->config, "name");
    return cJSON_IsString(n) ? n->valuestring : "test";
}

static int64_t fh_now_us(ioc_host_t *h)
{
    return h->now_us;
}

const ioc_host_services_t fh_services = {
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .size = sizeof(ioc_host_services_t),
    .log = fh_log,
    .emit = fh_emit,
    .collect_done = fh_collect_done,
    .loop = fh_loop,
    .config = fh_config,
    .name = fh_name,
    .now_us = fh_now_us,
};

const ioc_collector_desc_t *fh_load(const char *name, void **handle, char *path, size_t pathlen)
{
    const char *dir = getenv("IOCD_PLUGIN_DIR");
    if (!dir)
        fail_msg("IOCD_PLUGIN_DIR is not set: run this test through ctest");
    snprintf(path, pathlen, "%s/%s.so", dir, name);
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle)
        fail_msg("cannot load %s (%s): build the collector_%s target first", path, dlerror(), name);
    const ioc_collector_desc_t *desc = dlsym(*handle, IOC_COLLECTOR_SYMBOL);
    if (!desc)
        fail_msg("%s does not export %s", path, IOC_COLLECTOR_SYMBOL);
    return desc;
}

ioc_host_t *fh_host_new(const char *config)
{
    ioc_host_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->config = cJSON_Parse(config);
    if (!h->config || uv_loop_init(&h->loop) != 0) {
        cJSON_Delete(h->config);
        free(h);
        return NULL;
    }
    return h;
}

void fh_host_free(ioc_host_t *h)
{
    if (!h)
        return;
    uv_loop_close(&h->loop);
    cJSON_Delete(h->config);
    free(h->samples);
    free(h);
}

int fh_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int64_t now_us)
{
    h->now_us = now_us;
    h->nsamples = 0;
    h->emit_calls = 0;
    h->done_calls = 0;
    h->done_status = 1;
    desc->collect(state);
    assert_int_equal(h->done_calls, 1);
    return h->done_status;
}

double fh_sum(const ioc_host_t *h, const char *metric, const char *district)
{
    double sum = 0.0;
    for (size_t i = 0; i < h->nsamples; i++)
        if (strcmp(h->samples[i].metric, metric) == 0 &&
            (!district || strcmp(h->samples[i].district, district) == 0))
            sum += h->samples[i].value;
    return sum;
}

size_t fh_count(const ioc_host_t *h, const char *metric)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nsamples; i++)
        n += strcmp(h->samples[i].metric, metric) == 0;
    return n;
}

const fh_sample_t *fh_find(const ioc_host_t *h, const char *metric, const char *key)
{
    for (size_t i = 0; i < h->nsamples; i++) {
        const fh_sample_t *s = &h->samples[i];
        const char *k = s->id[0] ? s->id : s->district;
        if (strcmp(s->metric, metric) == 0 && strcmp(k, key) == 0)
            return s;
    }
    return NULL;
}
