/* A fake collector host for plugin tests: a real uv loop, every sample and log kept. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <setjmp.h>
#include <cmocka.h>

#include "fakehost.h"

#define FHOST_MAX_TAGS 64
#define FHOST_STOP_MS 5000

static void fhost_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "%s ", names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (getenv("FHOST_VERBOSE"))
        fprintf(stderr, "plugin: %s\n", line);
    if (h->nlogs < FHOST_MAX_LOGS)
        h->logs[h->nlogs++] = strdup(line);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const ioc_tag_t *)a)->key, ((const ioc_tag_t *)b)->key);
}

/* Copies one sample with all its tags; returns -1 if it breaks the ABI's rules (empty
 * strings, no metric). Fails the test if the tags do not fit in the record. */
static int record(const ioc_sample_t *s, fhost_sample_t *out)
{
    ioc_tag_t sorted[FHOST_MAX_TAGS];
    memset(out, 0, sizeof *out);
    if (!s->metric || !*s->metric || strlen(s->metric) >= sizeof out->metric ||
        s->ntags > FHOST_MAX_TAGS || (s->ntags && !s->tags))
        return -1;
    strcpy(out->metric, s->metric);
    memcpy(sorted, s->tags, s->ntags * sizeof *sorted);
    qsort(sorted, s->ntags, sizeof *sorted, cmp_tag);
    for (size_t i = 0; i < s->ntags; i++) {
        const ioc_tag_t *t = &sorted[i];
        if (!t->key || !*t->key || !t->value || !*t->value)
            return -1;
        size_t used = strlen(out->tags);
        if ((size_t)snprintf(out->tags + used, sizeof out->tags - used, "%s%s=%s", i ? "," : "",
                             t->key, t->value) >= sizeof out->tags - used)
            fail_msg("the tags of a %s sample do not fit in the fake host's %zu bytes", s->metric,
                     sizeof out->tags);
    }
    out->value = s->value;
    out->ts_us = s->ts_us;
    return 0;
}

static int fhost_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    if (h->nsamples + n > h->cap) {
        size_t cap = (h->nsamples + n) * 2;
        fhost_sample_t *p = realloc(h->samples, cap * sizeof *p);
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

static void fhost_collect_done(ioc_host_t *h, int status)
{
    h->done_calls++;
    h->done_status = status;
}

static uv_loop_t *fhost_loop(ioc_host_t *h)
{
    return &h->loop;
}

static const cJSON *fhost_config(ioc_host_t *h)
{
    return h->config;
}

static const char *fhost_name(ioc_host_t *h)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(h->config, "name");
    return cJSON_IsString(n) ? n->valuestring : "test";
}

static int64_t fhost_now_us(ioc_host_t *h)
{
    struct timeval tv;
    (void)h;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

const ioc_host_services_t fhost_services = {
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .size = sizeof(ioc_host_services_t),
    .log = fhost_log,
    .emit = fhost_emit,
    .collect_done = fhost_collect_done,
    .loop = fhost_loop,
    .config = fhost_config,
    .name = fhost_name,
    .now_us = fhost_now_us,
};

const ioc_collector_desc_t *fhost_load(const char *name)
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

ioc_host_t *fhost_new(const char *config)
{
    ioc_host_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->config = cJSON_Parse(config);
    if (!h->config)
        fail_msg("test config is not JSON: %s", config);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    return h;
}

void fhost_free(ioc_host_t *h)
{
    assert_int_equal(uv_loop_close(&h->loop), 0);
    for (size_t i = 0; i < h->nlogs; i++)
        free(h->logs[i]);
    cJSON_Delete(h->config);
    free(h->samples);
    free(h);
}

void *fhost_init(const ioc_collector_desc_t *desc, ioc_host_t *h)
{
    char err[512] = "";
    void *state = NULL;
    int rc = desc->init(&fhost_services, h, &state, err, sizeof err);
    if (rc != IOC_OK)
        fail_msg("init: %d %s", rc, err);
    return state;
}

ioc_host_t *fhost_open(const ioc_collector_desc_t *desc, void **state, const char *fmt, ...)
{
    char config[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(config, sizeof config, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof config);
    ioc_host_t *h = fhost_new(config);
    *state = fhost_init(desc, h);
    return h;
}

void fhost_config_error(const ioc_collector_desc_t *desc, const char *config, const char *want,
                        const char *secret)
{
    char err[512] = "";
    void *state = NULL;
    ioc_host_t *h = fhost_new(config);
    int rc = desc->init(&fhost_services, h, &state, err, sizeof err);
    if (rc != IOC_EINVAL || !strstr(err, want))
        fail_msg("config %s: got %d \"%s\", want IOC_EINVAL with \"%s\"", config, rc, err, want);
    if (secret && strstr(err, secret))
        fail_msg("the secret %s is in the error: %s", secret, err);
    fhost_free(h);
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

bool fhost_run_until(ioc_host_t *h, bool (*pred)(ioc_host_t *h, const void *arg), const void *arg,
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

void fhost_run_for(ioc_host_t *h, int ms)
{
    fhost_run_until(h, never, NULL, ms);
}

bool fhost_has_samples(ioc_host_t *h, const void *n)
{
    return h->nsamples >= *(const size_t *)n;
}

bool fhost_has_log(ioc_host_t *h, const void *needle)
{
    return fhost_count_logs(h, needle) > 0;
}

size_t fhost_count_logs(const ioc_host_t *h, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nlogs; i++)
        n += strstr(h->logs[i], needle) != NULL;
    return n;
}

void fhost_dump_logs(const ioc_host_t *h)
{
    for (size_t i = 0; i < h->nlogs; i++)
        fprintf(stderr, "  log: %s\n", h->logs[i]);
}

const fhost_sample_t *fhost_find(const ioc_host_t *h, const char *metric, const char *tags)
{
    for (size_t i = 0; i < h->nsamples; i++)
        if (strcmp(h->samples[i].metric, metric) == 0 && strcmp(h->samples[i].tags, tags) == 0)
            return &h->samples[i];
    return NULL;
}

static bool collect_returned(ioc_host_t *h, const void *arg)
{
    (void)arg;
    return h->done_calls > 0;
}

int fhost_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms)
{
    h->done_calls = 0;
    h->done_status = 1;
    desc->collect(state);
    if (timeout_ms > 0)
        fhost_run_until(h, collect_returned, NULL, timeout_ms);
    if (h->done_calls != 1) {
        fhost_dump_logs(h);
        fail_msg("collect_done called %d times within %d ms", h->done_calls, timeout_ms);
    }
    return h->done_status;
}

static void on_closed(ioc_host_t *h)
{
    h->closed++;
}

/* Handles on the loop other than the host's own, for fhost_stop. */
typedef struct handle_count {
    const uv_handle_t *own;
    int others;
} handle_count_t;

static void count_handle(uv_handle_t *handle, void *arg)
{
    handle_count_t *c = arg;
    c->others += handle != c->own;
}

void fhost_stop(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms)
{
    /* the wake-up timer keeps the loop turning; it is closed only after the plugin's handles
     * were counted, so that its close does not finish handles the plugin left closing */
    uv_timer_t wake;
    handle_count_t left = {(uv_handle_t *)&wake, 0};
    uv_timer_init(&h->loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    uv_update_time(&h->loop);
    uint64_t deadline = uv_now(&h->loop) + (uint64_t)timeout_ms;
    h->closed = 0;
    desc->stop(state, on_closed, h);
    while (!h->closed && uv_now(&h->loop) < deadline)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_walk(&h->loop, count_handle, &left);
    unsigned reqs = h->loop.active_reqs.count;
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    if (h->closed != 1)
        fail_msg("`closed` called %d times within %d ms of stop", h->closed, timeout_ms);
    if (left.others || reqs)
        fail_msg("`closed` called with %d handles and %u requests of the plugin left", left.others,
                 reqs);
}

void fhost_finish(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h)
{
    fhost_stop(desc, state, h, FHOST_STOP_MS);
    fhost_free(h);
}
