/* A fake collector host for the probe plugin's tests: a real uv loop, every sample and log kept. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <setjmp.h>
#include <cmocka.h>

#include "helper_host.h"

static void ph_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "%s ", names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (getenv("PH_VERBOSE"))
        fprintf(stderr, "plugin: %s\n", line);
    if (h->nlogs < PH_MAX_LOGS)
        h->logs[h->nlogs++] = strdup(line);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

/* Copies one sample; returns -1 if it breaks the ABI's rules (empty strings, no metric). */
static int record(const ioc_sample_t *s, ph_sample_t *out)
{
    ioc_tag_t sorted[64];
    memset(out, 0, sizeof *out);
    if (!s->metric || !*s->metric || strlen(s->metric) >= sizeof out->metric || s->ntags > 64 ||
        (s->ntags && !s->tags))
        return -1;
    strcpy(out->metric, s->metric);
    memcpy(sorted, s->tags, s->ntags * sizeof *sorted);
    qsort(sorted, s->ntags, sizeof *sorted, cmp_tag);
    for (size_t i = 0; i < s->ntags; i++) {
        const ioc_tag_t *t = &sorted[i];
        if (!t->key || !*t->key || !t->value || !*t->value)
            return -1;
        size_t used = strlen(out->tags);
        snprintf(out->tags + used, sizeof out->tags - used, "%s%s=%s", i ? "," : "", t->key,
                 t->value);
    }
    out->value = s->value;
    out->ts_us = s->ts_us;
    return 0;
}

static int ph_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    if (h->nsamples + n > h->cap) {
        size_t cap = (h->nsamples + n) * 2;
        ph_sample_t *p = realloc(h->samples, cap * sizeof *p);
        if (!p)
            return IOC_ENOMEM;
        h->samples = p;
        h->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (record(&samples[i], &h->samples[h->nsamples]) != 0) {
            h->malformed++;
            return IOC_EINVAL;
        }
        h->nsamples++;
    }
    return IOC_OK;
}

static void ph_collect_done(ioc_host_t *h, int status)
{
    h->done_calls++;
    h->done_status = status;
}

static uv_loop_t *ph_loop(ioc_host_t *h)
{
    return &h->loop;
}

static const cJSON *ph_config(ioc_host_t *h)
{
    return h->config;
}

static const char *ph_name(ioc_host_t *h)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(h->config, "name");
    return cJSON_IsString(n) ? n->valuestring : "test";
}

static int64_t ph_now_us(ioc_host_t *h)
{
    struct timeval tv;
    (void)h;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

const ioc_host_services_t ph_services = {
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .size = sizeof(ioc_host_services_t),
    .log = ph_log,
    .emit = ph_emit,
    .collect_done = ph_collect_done,
    .loop = ph_loop,
    .config = ph_config,
    .name = ph_name,
    .now_us = ph_now_us,
};

const ioc_collector_desc_t *ph_load(void)
{
    char path[4096];
    const char *dir = getenv("IOCD_PLUGIN_DIR");
    if (!dir)
        fail_msg("IOCD_PLUGIN_DIR is not set: run this test through ctest");
    snprintf(path, sizeof path, "%s/probe.so", dir);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        fail_msg("cannot load %s (%s): build the collector_probe target first", path, dlerror());
    const ioc_collector_desc_t *desc = dlsym(handle, IOC_COLLECTOR_SYMBOL);
    if (!desc)
        fail_msg("%s does not export %s", path, IOC_COLLECTOR_SYMBOL);
    return desc;
}

ioc_host_t *ph_host_new(const char *config)
{
    ioc_host_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->config = cJSON_Parse(config);
    if (!h->config)
        fail_msg("test config is not JSON: %s", config);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    return h;
}

void ph_host_free(ioc_host_t *h)
{
    assert_int_equal(uv_loop_close(&h->loop), 0);
    for (size_t i = 0; i < h->nlogs; i++)
        free(h->logs[i]);
    cJSON_Delete(h->config);
    free(h->samples);
    free(h);
}

void *ph_init(const ioc_collector_desc_t *desc, ioc_host_t *h)
{
    char err[512] = "";
    void *state = NULL;
    int rc = desc->init(&ph_services, h, &state, err, sizeof err);
    if (rc != IOC_OK)
        fail_msg("init: %d %s", rc, err);
    return state;
}

static void on_closed(ioc_host_t *h)
{
    h->closed++;
}

void ph_stop(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h)
{
    /* a look-up still on the threadpool may hold it up to the resolver's own timeout */
    uint64_t deadline = uv_hrtime() + 30000000000u;
    desc->stop(state, on_closed, h);
    while (!h->closed && uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
    assert_int_equal(h->closed, 1);
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

int ph_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms,
               double *elapsed_ms)
{
    uv_timer_t wake;
    uint64_t t0 = uv_hrtime(), deadline = t0 + (uint64_t)timeout_ms * 1000000u;
    h->nsamples = 0;
    h->done_calls = 0;
    h->done_status = 1;
    uv_timer_init(&h->loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    desc->collect(state);
    while (!h->done_calls && uv_hrtime() < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
    if (elapsed_ms)
        *elapsed_ms = (double)(uv_hrtime() - t0) / 1e6;
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    if (h->done_calls != 1)
        fail_msg("collect_done called %d times within %d ms", h->done_calls, timeout_ms);
    return h->done_status;
}

const ph_sample_t *ph_find(const ioc_host_t *h, const char *metric, const char *target)
{
    char needle[300];
    const ph_sample_t *found = NULL;
    size_t nlen = (size_t)snprintf(needle, sizeof needle, "target=%s", target);
    for (size_t i = 0; i < h->nsamples; i++) {
        const ph_sample_t *s = &h->samples[i];
        const char *p = strstr(s->tags, needle);
        if (strcmp(s->metric, metric) != 0 || !p || (p != s->tags && p[-1] != ',') ||
            (p[nlen] != ',' && p[nlen] != '\0'))
            continue;
        if (found)
            fail_msg("two %s samples for target %s", metric, target);
        found = s;
    }
    return found;
}

size_t ph_count_logs(const ioc_host_t *h, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nlogs; i++)
        n += strstr(h->logs[i], needle) != NULL;
    return n;
}
