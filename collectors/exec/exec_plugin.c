/* The exec collector's exported descriptor: each interval one run; its stdout is line protocol. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "ingest/lineproto.h"

#define COMPLAIN_EVERY_US (60LL * 1000000)
#define STDERR_LINES_PER_MINUTE 5

/* What a rate-limited complaint is about: each kind has its own minute. */
enum { K_RUN, K_LINES, K_COUNT };

typedef struct exec_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    exec_config_t cfg;
    exec_run_t *run;         /* the run in progress, or NULL */
    int open;                /* runs not yet released */
    bool stopping;
    void (*closed)(ioc_host_t *host);
    /* the current run's output */
    size_t good_lines, samples, refused;
    /* rate-limited logging */
    int64_t last_log_us[K_COUNT];
    uint64_t unlogged[K_COUNT];
    int64_t stderr_window_us;  /* start of the current minute of stderr lines */
    unsigned stderr_logged;    /* lines logged in it */
    uint64_t stderr_unlogged;  /* lines not logged since the last one that was */
} exec_instance_t;

/* Logs a problem of one kind: the first at once, then at most once a minute with the number
 * of those not logged in between. */
__attribute__((format(printf, 3, 4)))
static void complain(exec_instance_t *inst, int kind, const char *fmt, ...)
{
    char msg[512];
    int64_t now = inst->svc->now_us(inst->host);
    if (inst->last_log_us[kind] && now - inst->last_log_us[kind] < COMPLAIN_EVERY_US) {
        inst->unlogged[kind]++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    inst->svc->log(inst->host, IOC_LOG_WARN, "%s not_logged=%llu", msg,
                   (unsigned long long)inst->unlogged[kind]);
    inst->last_log_us[kind] = now;
    inst->unlogged[kind] = 0;
}

/* Copies text for a log line; double quotes, backslashes and control bytes become '?'. */
static const char *log_text(char *out, size_t outlen, const char *s)
{
    size_t n = 0;
    for (; s[n] && n + 1 < outlen; n++)
        out[n] = (s[n] == '"' || s[n] == '\\' || (unsigned char)s[n] < 0x20) ? '?' : s[n];
    out[n] = '\0';
    return out;
}

static void free_instance(exec_instance_t *inst)
{
    void (*closed)(ioc_host_t *) = inst->closed;
    ioc_host_t *host = inst->host;
    exec_config_free(&inst->cfg);
    free(inst);
    closed(host);
}

static void on_released(void *ud)
{
    exec_instance_t *inst = ud;
    if (--inst->open == 0 && inst->stopping)
        free_instance(inst);
}

/* A stderr line: logged, at most STDERR_LINES_PER_MINUTE a minute; the rest are counted. */
static void on_stderr_line(void *ud, const char *line)
{
    exec_instance_t *inst = ud;
    char t[EXEC_STDERR_LINE + 1];
    int64_t now = inst->svc->now_us(inst->host);
    if (now - inst->stderr_window_us >= COMPLAIN_EVERY_US) {
        inst->stderr_window_us = now;
        inst->stderr_logged = 0;
    }
    if (inst->stderr_logged >= STDERR_LINES_PER_MINUTE) {
        inst->stderr_unlogged++;
        return;
    }
    inst->stderr_logged++;
    inst->svc->log(inst->host, IOC_LOG_WARN, "event=stderr command=\"%s\" line=\"%s\" "
                   "not_logged=%llu", inst->cfg.display, log_text(t, sizeof t, line),
                   (unsigned long long)inst->stderr_unlogged);
    inst->stderr_unlogged = 0;
}

static int on_line(void *ud, const ioc_sample_t *samples, size_t n)
{
    exec_instance_t *inst = ud;
    inst->good_lines++;
    /* The host counts what it refuses (dropped or invalid) and logs it rate-limited. */
    if (inst->svc->emit(inst->host, samples, n) == IOC_OK)
        inst->samples += n;
    else
        inst->refused += n;
    return 0;
}

/* Why a run failed, for the log. */
static void describe(const exec_result_t *res, char *out, size_t outlen)
{
    if (res->status == IOC_ETIMEDOUT)
        snprintf(out, outlen, "did not finish within its timeout: killed");
    else if (res->status == IOC_ETOOBIG)
        snprintf(out, outlen, "wrote more than max_output to stdout: killed");
    else if (res->term_signal)
        snprintf(out, outlen, "killed by signal %d", res->term_signal);
    else
        snprintf(out, outlen, "exit status %lld", (long long)res->exit_status);
}

static void on_done(void *ud, const exec_result_t *res)
{
    exec_instance_t *inst = ud;
    char why[96], t[192];
    lp_error_t lperr;
    inst->run = NULL;
    if (res->status != IOC_OK) {
        describe(res, why, sizeof why);
        complain(inst, K_RUN, "event=command_failed command=\"%s\" detail=\"%s\" "
                 "stdout_bytes=%zu", inst->cfg.display, why, res->len);
        inst->svc->collect_done(inst->host, res->status);
        return;
    }
    inst->good_lines = inst->samples = inst->refused = 0;
    size_t bad = lp_parse(res->out, res->len, (lp_precision_t)inst->cfg.precision,
                          inst->svc->now_us(inst->host), on_line, inst, &lperr);
    if (bad)
        complain(inst, K_LINES, "event=bad_lines command=\"%s\" bad_lines=%zu good_lines=%zu "
                 "first_line=%zu detail=\"%s\"", inst->cfg.display, bad, inst->good_lines,
                 lperr.line, log_text(t, sizeof t, lperr.msg));
    inst->svc->log(inst->host, IOC_LOG_DEBUG, "event=run_done lines=%zu bad_lines=%zu "
                   "samples=%zu refused=%zu", inst->good_lines, bad, inst->samples,
                   inst->refused);
    /* Some good lines make a useful run; only output with nothing usable is an error. */
    inst->svc->collect_done(inst->host, bad && !inst->good_lines ? IOC_EINVAL : IOC_OK);
}

static void exec_collect(void *state)
{
    exec_instance_t *inst = state;
    char err[256], t[256];
    static const exec_run_cbs_t cbs = {
        .stderr_line = on_stderr_line, .done = on_done, .released = on_released};
    if (inst->run) {
        inst->svc->collect_done(inst->host, IOC_EAGAIN);
        return;
    }
    inst->open++;
    int rc = exec_run_start(inst->svc->loop(inst->host), &inst->cfg, &cbs, inst, &inst->run,
                            err, sizeof err);
    if (rc != IOC_OK) {
        inst->run = NULL;
        if (rc == IOC_ENOMEM)
            inst->open--;
        complain(inst, K_RUN, "event=start_failed detail=\"%s\"", log_text(t, sizeof t, err));
        inst->svc->collect_done(inst->host, rc);
    }
}

static int exec_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                     char *err, size_t errlen)
{
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), exec needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION,
                 sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    exec_instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    inst->svc = svc;
    inst->host = host;
    int rc = exec_config_parse(svc->config(host), &inst->cfg, err, errlen);
    if (rc != IOC_OK) {
        free(inst);
        return rc;
    }
    size_t argc = 0;
    while (inst->cfg.argv[argc])
        argc++;
    svc->log(host, IOC_LOG_INFO, "command=\"%s\" argc=%zu term_after_ms=%llu max_output=%zu",
             inst->cfg.display, argc, (unsigned long long)inst->cfg.term_ms,
             inst->cfg.max_output);
    *state_out = inst;
    return IOC_OK;
}

static void exec_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    exec_instance_t *inst = state;
    inst->closed = closed;
    inst->host = host;
    inst->stopping = true;
    if (inst->run) {
        exec_run_abort(inst->run);
        inst->run = NULL;
    }
    if (inst->open == 0)
        free_instance(inst);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "exec",
    .version = "1.0.0",
    .init = exec_init,
    .start = NULL,
    .collect = exec_collect,
    .stop = exec_stop,
};
