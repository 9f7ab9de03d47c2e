/* The probe collector's exported descriptor: each round probes every target and emits
 * probe.up (0/1) and, when up, probe.latency_ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define COMPLAIN_EVERY_US (60LL * 1000000)

typedef struct probe_instance {
    const ioc_host_services_t *svc;
    ioc_host_t *host;
    probe_config_t cfg;
    probe_runner_t *runner;
    void (*closed)(ioc_host_t *host);
    int round_status;                  /* first emit error of the round */
    const probe_target_t *first_down;  /* an example for the log */
    probe_outcome_t first_down_why;
    uint64_t rounds, refused;
    int64_t last_down_log_us, last_skip_log_us;
} probe_instance_t;

static int64_t inst_now_us(void *ud)
{
    probe_instance_t *inst = ud;
    return inst->svc->now_us(inst->host);
}

static void on_result(void *ud, const probe_result_t *res)
{
    probe_instance_t *inst = ud;
    const probe_target_t *t = res->target;
    bool up = res->outcome == PROBE_UP;
    ioc_sample_t s[2] = {
        {.metric = "probe.up", .tags = t->tags, .ntags = t->ntags, .value = up,
         .ts_us = res->ts_us},
        {.metric = "probe.latency_ms", .tags = t->tags, .ntags = t->ntags,
         .value = res->latency_ms, .ts_us = res->ts_us}};
    if (!up && !inst->first_down) {
        inst->first_down = t;
        inst->first_down_why = res->outcome;
    }
    int rc = inst->svc->emit(inst->host, s, up ? 2 : 1);
    if (rc != IOC_OK) {
        /* The host counts what it refused and logs it, rate-limited. */
        inst->refused++;
        if (inst->round_status == IOC_OK)
            inst->round_status = rc;
    }
}

/* Logs down targets and skipped targets at most once a minute each, with the round's figures. */
static void complain(probe_instance_t *inst, const probe_round_stats_t *st)
{
    int64_t now = inst->svc->now_us(inst->host);
    size_t down = st->probed - st->up;
    if (down && now - inst->last_down_log_us >= COMPLAIN_EVERY_US) {
        char q[PROBE_MAX_TAG_LEN + 1];
        size_t n = 0;
        for (const char *p = inst->first_down->name; *p && n < PROBE_MAX_TAG_LEN; p++)
            q[n++] = (*p == '"' || (unsigned char)*p < 0x20) ? '?' : *p;
        q[n] = '\0';
        inst->last_down_log_us = now;
        inst->svc->log(inst->host, IOC_LOG_WARN,
                       "event=targets_down down=%zu of=%zu timeout=%zu refused=%zu "
                       "unreachable=%zu dns=%zu bad_status=%zu bad_answer=%zu closed=%zu "
                       "error=%zu example=\"%s\" example_reason=%s", down, st->probed,
                       st->outcomes[PROBE_TIMEOUT], st->outcomes[PROBE_REFUSED],
                       st->outcomes[PROBE_UNREACHABLE], st->outcomes[PROBE_DNS],
                       st->outcomes[PROBE_BAD_STATUS], st->outcomes[PROBE_BAD_ANSWER],
                       st->outcomes[PROBE_CLOSED], st->outcomes[PROBE_ERROR], q,
                       probe_outcome_name(inst->first_down_why));
    }
    if (st->skipped && now - inst->last_skip_log_us >= COMPLAIN_EVERY_US) {
        inst->last_skip_log_us = now;
        inst->svc->log(inst->host, IOC_LOG_WARN,
                       "event=round_overrun skipped=%zu probed=%zu budget_ms=%llu "
                       "detail=\"raise concurrency or timeout, or lower target_timeout\"",
                       st->skipped, st->probed, (unsigned long long)inst->cfg.round_ms);
    }
}

static void on_round_done(void *ud, const probe_round_stats_t *st)
{
    probe_instance_t *inst = ud;
    int status = inst->round_status;
    inst->rounds++;
    complain(inst, st);
    inst->svc->log(inst->host, IOC_LOG_DEBUG,
                   "event=round round=%llu probed=%zu up=%zu skipped=%zu elapsed_ms=%llu "
                   "refused_emits=%llu", (unsigned long long)inst->rounds, st->probed, st->up,
                   st->skipped, (unsigned long long)st->elapsed_ms,
                   (unsigned long long)inst->refused);
    if (status == IOC_OK && st->skipped)
        status = IOC_ETIMEDOUT;
    inst->svc->collect_done(inst->host, status);
}

static int probe_init(const ioc_host_services_t *svc, ioc_host_t *host, void **state_out,
                      char *err, size_t errlen)
{
    int rc;
    if (svc->abi_version != IOC_COLLECTOR_ABI_VERSION || svc->size < sizeof(ioc_host_services_t)) {
        snprintf(err, errlen, "host services ABI %u (size %u), probe needs ABI %u (size %zu)",
                 svc->abi_version, svc->size, IOC_COLLECTOR_ABI_VERSION,
                 sizeof(ioc_host_services_t));
        return IOC_EABI;
    }
    probe_instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "out of memory");
        return IOC_ENOMEM;
    }
    inst->svc = svc;
    inst->host = host;
    rc = probe_config_parse(svc->config(host), &inst->cfg, err, errlen);
    if (rc != IOC_OK)
        goto fail;
    const probe_runner_events_t ev = {.ud = inst, .result = on_result,
                                      .round_done = on_round_done};
    rc = probe_runner_new(svc->loop(host), &inst->cfg, &ev, inst_now_us, &inst->runner);
    if (rc != IOC_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* Worst case: every target times out, `concurrency` at a time. */
    uint64_t waves = (inst->cfg.ntargets + inst->cfg.concurrency - 1) / inst->cfg.concurrency;
    uint64_t worst = waves * inst->cfg.target_timeout_ms;
    svc->log(host, worst > inst->cfg.round_ms ? IOC_LOG_WARN : IOC_LOG_INFO,
             "targets=%zu concurrency=%u target_timeout_ms=%llu round_budget_ms=%llu "
             "worst_round_ms=%llu%s", inst->cfg.ntargets, inst->cfg.concurrency,
             (unsigned long long)inst->cfg.target_timeout_ms,
             (unsigned long long)inst->cfg.round_ms, (unsigned long long)worst,
             worst > inst->cfg.round_ms ? " detail=\"if many targets time out, the rest of a "
             "round is skipped\"" : "");
    *state_out = inst;
    return IOC_OK;
fail:
    probe_config_free(&inst->cfg);
    free(inst);
    return rc;
}

static void probe_collect(void *state)
{
    probe_instance_t *inst = state;
    inst->round_status = IOC_OK;
    inst->first_down = NULL;
    probe_runner_round(inst->runner);
}

static void on_runner_closed(void *ud)
{
    probe_instance_t *inst = ud;
    void (*closed)(ioc_host_t *) = inst->closed;
    ioc_host_t *host = inst->host;
    probe_config_free(&inst->cfg);
    free(inst);
    closed(host);
}

static void probe_stop(void *state, void (*closed)(ioc_host_t *host), ioc_host_t *host)
{
    probe_instance_t *inst = state;
    inst->closed = closed;
    inst->host = host;
    probe_runner_close(inst->runner, on_runner_closed, inst);
}

IOC_COLLECTOR_EXPORT const ioc_collector_desc_t ioc_collector = {
    .magic = IOC_COLLECTOR_MAGIC,
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .name = "probe",
    .version = "1.0.0",
    .init = probe_init,
    .start = NULL,
    .collect = probe_collect,
    .stop = probe_stop,
};
