/* The http_json collector's exported descriptor: each collect GETs every URL, maps each body to
 * samples on the threadpool, emits them on the loop, and ends the round once all are done. */
#include <stdio.h>
#include <stdlib.h>

#include "hj.h"

#define COMPLAIN_EVERY_US (60LL * 1000000)
#define PACKED_PER_BODY 4 /* samples of one body may take 4 x max_body bytes */

typedef struct hj_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    hj_http_cfg_t http_cfg;
    hj_map_cfg_t map_cfg;
    hj_http_t *http;
    int busy;             /* a round is in progress */
    uint64_t round;       /* its number: mapping jobs of older rounds are dropped */
    size_t pending;       /* its transfers and mapping jobs not yet done */
    int round_status;     /* its first error */
    size_t jobs;          /* mapping jobs on the threadpool, any round */
    int stopping, http_closed;
    /* rate-limited complaints */
    int64_t last_complaint_us;
    uint64_t suppressed;
    uint64_t malformed, skipped, failures; /* totals, for the log */
    void (*closed)(ioc_host_t *host);
} hj_instance_t;

/* Logs a problem now if the last one was logged over a minute ago, else counts it. */
static void complain(hj_instance_t *inst, const char *url, const char *what, const char *detail)
{
    int64_t now = inst->svc->now_us(inst->host);
    if (inst->last_complaint_us && now - inst->last_complaint_us < COMPLAIN_EVERY_US) {
        inst->suppressed++;
        return;
    }
    inst->svc->log(inst->host, IOC_LOG_WARN,
                   "url=\"%s\" event=%s detail=\"%s\" failures=%llu malformed=%llu skipped=%llu "
                   "suppressed=%llu", url, what, detail, (unsigned long long)inst->failures,
                   (unsigned long long)inst->malformed, (unsigned long long)inst->skipped,
                   (unsigned long long)inst->suppressed);
    inst->last_complaint_us = now;
    inst->suppressed = 0;
}

static int sink(void *ud, const ioc_sample_t *samples, size_t n)
{
    hj_instance_t *inst = ud;
    int rc = inst->svc->emit(inst->host, samples, n);
    /* An invalid sample is the host's to count; back-pressure stops this body. */
    if (rc == IOC_EINVAL)
        return IOC_OK;
    return rc;
}

static void end_round(hj_instance_t *inst)
{
    inst->busy = 0;
    inst->svc->collect_done(inst->host, inst->round_status);
}

/* Counts a finished transfer or job into the round; the last one ends it. */
static void round_step(hj_instance_t *inst, int status)
{
    if (status != IOC_OK && inst->round_status == IOC_OK)
        inst->round_status = status;
    if (--inst->pending == 0)
        end_round(inst);
}

static void maybe_closed(hj_instance_t *inst)
{
    if (!inst->stopping || !inst->http_closed || inst->jobs > 0)
        return;
    void (*closed)(ioc_host_t *) = inst->closed;
    ioc_host_t *host = inst->host;
    free(inst);
    closed(host);
}

/* A body is mapped: emit its samples (unless its round is over) and say what went wrong. */
static void on_mapped(void *ud, hj_job_t *job)
{
    hj_instance_t *inst = ud;
    const hj_job_result_t *r = hj_job_result(job);
    inst->jobs--;
    if (!inst->stopping && inst->busy && r->round == inst->round) {
        const char *url = inst->http_cfg.urls[r->idx];
        int status = r->status, rc = hj_job_emit(job, sink, inst);
        inst->skipped += r->st.skipped;
        if (status == IOC_EINVAL) {
            inst->malformed++;
            complain(inst, url, "malformed_payload", r->err);
        } else if (rc != IOC_OK) {
            status = rc;
            complain(inst, url, "emit_refused", "the host refused samples");
        } else if (status != IOC_OK) {
            complain(inst, url, "map_failed", r->err);
        } else if (r->st.skipped) {
            complain(inst, url, "values_skipped", r->st.first_skip);
        }
        round_step(inst, status);
    }
    hj_job_free(job);
    maybe_closed(inst);
}

/* A transfer is done: hand its body to the threadpool for mapping. */
static void on_done(void *ud, size_t idx, int status, char *body, size_t len, const char *msg)
{
    hj_instance_t *inst = ud;
    size_t max_packed = inst->http_cfg.max_body * PACKED_PER_BODY;
    if (status == IOC_OK && !body && !(body = calloc(1, 1)))
        status = IOC_ENOMEM;
    if (status == IOC_OK) {
        status = hj_job_start(inst->svc->loop(inst->host), &inst->map_cfg, body, len,
                              inst->svc->now_us(inst->host), max_packed, idx, inst->round,
                              on_mapped, inst);
        if (status == IOC_OK) {
            inst->jobs++;
            return;
        }
        msg = "cannot queue the mapping";
    } else {
        free(body);
    }
    inst->failures++;
    complain(inst, inst->http_cfg.urls[idx], "poll_failed", msg);
    round_step(inst, status);
}

static int hj_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out, char *err,
                   size_t errlen)
{
    char warn[256];
    int rc;
    hj_instance_t *inst;
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), http_json needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION,
                 sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    if (!(inst = calloc(1, sizeof *inst))) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    inst->svc = svc;
    inst->host = host;
    rc = hj_config_parse(svc->config(host), &inst->http_cfg, &inst->map_cfg, warn, sizeof warn,
                         err, errlen);
    if (rc == IOC_OK)
        rc = hj_http_new(svc->loop(host), &inst->http_cfg, on_done, inst, &inst->http, err, errlen);
    if (rc != IOC_OK) {
        free(inst);
        return rc;
    }
    if (warn[0])
        svc->log(host, IOC_LOG_WARN, "%s", warn);
    *state_out = inst;
    return IOC_OK;
}

static void hj_collect(void *state)
{
    hj_instance_t *inst = state;
    if (inst->busy) {
        /* The host gave up on the last round (its timeout): drop it and close it out. */
        hj_http_abort(inst->http);
        inst->round_status = IOC_ETIMEDOUT;
        end_round(inst);
    }
    inst->busy = 1;
    inst->round++;
    inst->round_status = IOC_OK;
    inst->pending = 0;
    for (size_t i = 0; i < inst->http_cfg.nurls; i++) {
        int rc = hj_http_get(inst->http, i);
        if (rc == IOC_OK)
            inst->pending++;
        else if (inst->round_status == IOC_OK)
            inst->round_status = rc;
    }
    if (inst->pending == 0)
        end_round(inst);
}

static void on_http_closed(void *ud)
{
    hj_instance_t *inst = ud;
    inst->http_closed = 1;
    maybe_closed(inst);
}

static void hj_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    hj_instance_t *inst = state;
    (void)host;
    inst->closed = closed;
    inst->stopping = 1;
    hj_http_close(inst->http, on_http_closed, inst);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "http_json",
    .version = "1.0.0",
    .init = hj_init,
    .start = NULL,
    .collect = hj_collect,
    .stop = hj_stop,
};
