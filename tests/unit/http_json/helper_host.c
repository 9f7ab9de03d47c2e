/* A fake collector host on a real libuv loop for http_json plugin tests, and the local HTTP
 * server they poll. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "helper_host.h"

static void hh_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    size_t used = strlen(h->logs);
    va_list ap;
    (void)level;
    h->after_stop += h->stopped;
    h->nlogs++;
    va_start(ap, fmt);
    vsnprintf(h->logs + used, sizeof h->logs - used, fmt, ap);
    va_end(ap);
    used = strlen(h->logs);
    if (used + 1 < sizeof h->logs) {
        h->logs[used] = '\n';
        h->logs[used + 1] = '\0';
    }
}

static int hh_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    h->after_stop += h->stopped;
    if (h->emit_status != IOC_OK)
        return h->emit_status;
    for (size_t i = 0; i < n; i++) {
        const ioc_sample_t *s = &samples[i];
        assert_true(s->metric && *s->metric);
        for (size_t t = 0; t < s->ntags; t++)
            assert_true(s->tags[t].key && *s->tags[t].key && s->tags[t].value && *s->tags[t].value);
    }
    return rec_sink(&h->rec, samples, n);
}

static void hh_done(ioc_host_t *h, int status)
{
    h->after_stop += h->stopped;
    h->done_calls++;
    h->done_status = status;
}

static uv_loop_t *hh_loop(ioc_host_t *h) { return &h->loop; }
static const cJSON *hh_config(ioc_host_t *h) { return h->config; }
static const char *hh_name(ioc_host_t *h) { (void)h; return "test"; }
static int64_t hh_now(ioc_host_t *h) { return h->now_us; }

const ioc_host_services_t hh_services = {
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .size = sizeof(ioc_host_services_t),
    .log = hh_log,
    .emit = hh_emit,
    .collect_done = hh_done,
    .loop = hh_loop,
    .config = hh_config,
    .name = hh_name,
    .now_us = hh_now,
};

const ioc_collector_desc_t *hh_load(void **handle)
{
    const char *dir = getenv("IOCD_PLUGIN_DIR");
    char path[4096];
    if (!dir)
        fail_msg("IOCD_PLUGIN_DIR is not set: run this test through ctest");
    snprintf(path, sizeof path, "%s/http_json.so", dir);
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle)
        fail_msg("cannot load %s (%s): build collector_http_json first", path, dlerror());
    const ioc_collector_desc_t *desc = dlsym(*handle, IOC_COLLECTOR_SYMBOL);
    if (!desc)
        fail_msg("%s does not export %s", path, IOC_COLLECTOR_SYMBOL);
    return desc;
}

ioc_host_t *hh_new(const char *config, int port)
{
    char text[8192], num[16];
    size_t o = 0;
    snprintf(num, sizeof num, "%d", port);
    for (const char *p = config; *p && o + 16 < sizeof text;) {
        if (strncmp(p, "$PORT", 5) == 0) {
            memcpy(text + o, num, strlen(num));
            o += strlen(num);
            p += 5;
        } else {
            text[o++] = *p++;
        }
    }
    text[o] = '\0';
    ioc_host_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->config = cJSON_Parse(text);
    if (!h->config)
        fail_msg("test config is not JSON: %s", text);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->now_us = 1700000000000000LL;
    return h;
}

static void on_closed(ioc_host_t *h)
{
    h->closed = 1;
}

static void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static int run_until(ioc_host_t *h, int *flag, int ms)
{
    int expired = 0;
    uv_timer_t guard;
    uv_timer_init(&h->loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, (uint64_t)ms, 0);
    while (!*flag && !expired)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    return *flag;
}

void hh_free(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h)
{
    if (state) {
        desc->stop(state, on_closed, h);
        h->stopped = 1;
        if (!run_until(h, &h->closed, 5000))
            fail_msg("the plugin did not call `closed` within 5 s of stop");
    }
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    assert_int_equal(h->after_stop, 0);
    cJSON_Delete(h->config);
    rec_free(&h->rec);
    free(h);
}

int hh_collect(const ioc_collector_desc_t *desc, void *state, ioc_host_t *h, int timeout_ms)
{
    rec_free(&h->rec);
    h->done_calls = 0;
    h->done_status = 1;
    desc->collect(state);
    if (!run_until(h, &h->done_calls, timeout_ms))
        fail_msg("no collect_done within %d ms", timeout_ms);
    assert_int_equal(h->done_calls, 1);
    return h->done_status;
}

void hh_run_for(ioc_host_t *h, int ms)
{
    int never = 0;
    run_until(h, &never, ms);
}

pid_t hh_server_start(int *port)
{
    char script[4096], line[32];
    const char *fixtures = getenv("IOCD_FIXTURES");
    int fds[2];
    if (!fixtures)
        fail_msg("IOCD_FIXTURES is not set: run this test through ctest");
    snprintf(script, sizeof script, "%s", __FILE__);
    *strrchr(script, '/') = '\0';
    strcat(script, "/fixture_server.py");
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", script, fixtures, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (!f || !fgets(line, sizeof line, f) || (*port = atoi(line)) <= 0)
        fail_msg("%s did not start", script);
    fclose(f);
    return pid;
}

void hh_server_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}
