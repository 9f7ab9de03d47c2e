/* A fake collector host for the sql and exec plugins' tests: a real uv loop, every sample and
 * log kept, asynchronous collections and stops. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <setjmp.h>
#include <cmocka.h>

#include "helper_fakehost.h"

static void fh_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "%s ", names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (getenv("FH_VERBOSE"))
        fprintf(stderr, "plugin: %s\n", line);
    if (h->nlogs < FH_MAX_LOGS)
        h->logs[h->nlogs++] = strdup(line);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

/* Copies one sample; returns -1 if it breaks the ABI's rules (empty strings, no metric). */
static int record(const ioc_sample_t *s, fh_sample_t *out)
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

static int fh_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    if (h->nsamples + n > h->cap) {
        size_t cap = (h->nsamples + n) * 2;
        fh_sample_t *p = realloc(h->samples, cap * sizeof *p);
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
    struct timeval tv;
    (void)h;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
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

const ioc_collector_desc_t *fh_load(const char *name)
{
    char path[4096];
    const char *dir = getenv("IOCD_PLUGIN_DIR");
    if (!dir)
        fail_msg("IOCD_PLUGIN_DIR is not set: run this test through ctest");
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        fail_msg("cannot load %s (%s): build the collector_%s target first", path, dlerror(), name);
    const ioc_collector_desc_t *desc = dlsym(handle, IOC_COLLECTOR_SYMBOL);
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
    assert_int_equal(uv_loop_close(&h->loop), 0);
    for (size_t i = 0; i < h->nlogs; i++)
        free(h->logs[i]);
    cJSON_Delete(h->config);
    free(h->samples);
    free(h);
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

bool fh_run_until(ioc_host_t *h, bool (*pred)(ioc_host_t *h, const void *arg), const void *arg,
                  int timeout_ms)
{
    uv_timer_t wake;
    uv_timer_init(&h->loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    uv_update_time(&h->loop);
    uint64_t deadline = uv_now(&h->loop) + (uint64_t)timeout_ms;
    bool ok;
    while (!(ok = pred(h, arg)) && uv_now(&h->loop) < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    return ok;
}

static bool never(ioc_host_t *h, const void *arg)
{
    (void)h;
    (void)arg;
    return false;
}

void fh_run_for(ioc_host_t *h, int ms)
{
    fh_run_until(h, never, NULL, ms);
}

bool fh_has_samples(ioc_host_t *h, const void *n)
{
    return h->nsamples >= *(const size_t *)n;
}

bool fh_has_log(ioc_host_t *h, const void *needle)
{
    return fh_count_logs(h, needle) > 0;
}

size_t fh_count_logs(const ioc_host_t *h, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nlogs; i++)
        n += strstr(h->logs[i], needle) != NULL;
    return n;
}

static bool collect_returned(ioc_host_t *h, const void *arg)
{
    (void)arg;
    return h->done_calls > 0;
}

int fh_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms)
{
    h->done_calls = 0;
    h->done_status = 1;
    desc->collect(state);
    fh_run_until(h, collect_returned, NULL, timeout_ms);
    if (h->done_calls != 1)
        fh_dump_logs(h);
    assert_int_equal(h->done_calls, 1);
    return h->done_status;
}

static void on_closed(ioc_host_t *h)
{
    h->closed++;
}

static bool closed(ioc_host_t *h, const void *arg)
{
    (void)arg;
    return h->closed > 0;
}

void fh_stop(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h)
{
    h->closed = 0;
    desc->stop(state, on_closed, h);
    fh_run_until(h, closed, NULL, 5000);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    assert_int_equal(h->closed, 1);
}

void fh_dump_logs(const ioc_host_t *h)
{
    for (size_t i = 0; i < h->nlogs; i++)
        fprintf(stderr, "  log: %s\n", h->logs[i]);
}
