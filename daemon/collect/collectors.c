/* Collector instances: the host side of the plugin ABI. Each instance has its own timer; a
 * collection that fails or overruns its timeout backs off exponentially (capped), and repeated
 * errors are logged once per minute per instance. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "collect/collectors.h"
#include "collect/plugin.h"
#include "core/hashmap.h"
#include "core/log.h"
#include "core/metrics.h"

#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define COMPLAIN_EVERY_US (60LL * 1000000)

struct ioc_host {
    collectors_t *owner;
    struct ioc_host *next;
    const ioc_collector_desc_t *desc;
    void *state;
    char *name;
    cJSON *json;          /* the instance's config entry (owned) */
    uint64_t interval_ms, timeout_ms;
    uv_timer_t timer, timeout_timer;
    int open_handles;
    bool collecting, started, stopping;
    unsigned late_dones;  /* collect_done calls still owed by collections that timed out */
    unsigned failures;    /* consecutive */
    uint64_t rng;
    /* health */
    uint64_t ok, errors, timeouts, samples, dropped, invalid;
    int64_t last_success_us, last_complaint_us;
};

struct collectors {
    uv_loop_t *loop;
    char *plugin_dir;
    ingest_t *ingest;
    ioc_host_t *list;
    size_t count;
    void (*close_done)(void *);
    void *close_ud;
    bool closing;
    int stopping; /* instances stopped whose handles are not yet closed */
};

static ioc_host_services_t services;

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static uint64_t next_rand(ioc_host_t *h)
{
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    return h->rng;
}

static void svc_log(ioc_host_t *h, ioc_log_level_t level, const char *fmt, ...)
{
    char prefix[160], qname[128];
    snprintf(prefix, sizeof prefix, "collector=%s plugin=%s %s",
             log_q(qname, sizeof qname, h->name), h->desc->name, fmt);
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, "collect", prefix, ap);
    va_end(ap);
}

/* Logs a repeated problem at most once per minute per instance. */
static void complain(ioc_host_t *h, const char *what, const char *detail)
{
    int64_t now = wall_us();
    if (now - h->last_complaint_us < COMPLAIN_EVERY_US)
        return;
    h->last_complaint_us = now;
    char qd[256], qn[128];
    log_warn("collect", "collector=%s event=%s detail=%s errors=%llu dropped=%llu",
             log_q(qn, sizeof qn, h->name), what, log_q(qd, sizeof qd, detail),
             (unsigned long long)h->errors, (unsigned long long)h->dropped);
}

static int svc_emit(ioc_host_t *h, const ioc_sample_t *samples, size_t n)
{
    if (h->stopping)
        return IOC_ECLOSED;
    char err[160] = "";
    int rc = ingest_submit(h->owner->ingest, samples, n, wall_us(), err, sizeof err);
    if (rc == IOC_OK) {
        h->samples += n;
    } else if (rc == IOC_EINVAL) {
        h->invalid++;
        complain(h, "invalid_sample", err);
    } else {
        h->dropped += n;
        complain(h, "samples_dropped", ioc_strerror(rc));
    }
    return rc;
}

static void schedule(ioc_host_t *h);

static void svc_collect_done(ioc_host_t *h, int status)
{
    if (!h->collecting) {
        if (h->late_dones)
            h->late_dones--;
        return;
    }
    h->collecting = false;
    uv_timer_stop(&h->timeout_timer);
    if (status == IOC_OK) {
        h->ok++;
        h->failures = 0;
        h->last_success_us = wall_us();
    } else {
        h->errors++;
        h->failures++;
        complain(h, "collect_failed", ioc_strerror(status));
    }
    if (!h->stopping)
        schedule(h);
}

static uv_loop_t *svc_loop(ioc_host_t *h) { return h->owner->loop; }
static const cJSON *svc_config(ioc_host_t *h) { return h->json; }
static const char *svc_name(ioc_host_t *h) { return h->name; }
static int64_t svc_now_us(ioc_host_t *h) { (void)h; return wall_us(); }

static ioc_host_services_t services = {
    .abi_version = IOC_COLLECTOR_ABI_VERSION,
    .size = sizeof(ioc_host_services_t),
    .log = svc_log,
    .emit = svc_emit,
    .collect_done = svc_collect_done,
    .loop = svc_loop,
    .config = svc_config,
    .name = svc_name,
    .now_us = svc_now_us,
};

static void on_timeout(uv_timer_t *t)
{
    ioc_host_t *h = t->data;
    if (!h->collecting)
        return;
    h->collecting = false;
    h->late_dones++;
    h->timeouts++;
    h->errors++;
    h->failures++;
    complain(h, "collect_timeout", "collection did not finish within its timeout");
    schedule(h);
}

static void on_tick(uv_timer_t *t)
{
    ioc_host_t *h = t->data;
    if (h->stopping || h->collecting)
        return;
    h->collecting = true;
    uv_timer_start(&h->timeout_timer, on_timeout, h->timeout_ms, 0);
    h->desc->collect(h->state);
}

/* Arms the next collection: the interval with ±5% jitter, or a capped exponential back-off
 * after consecutive failures so a broken source is not hammered. */
static void schedule(ioc_host_t *h)
{
    if (!h->desc->collect)
        return;
    uint64_t delay = h->interval_ms;
    if (h->failures) {
        unsigned shift = h->failures > 16 ? 16 : h->failures;
        uint64_t backoff = h->interval_ms << shift;
        uint64_t cap = h->interval_ms > BACKOFF_MAX_MS ? h->interval_ms : BACKOFF_MAX_MS;
        delay = backoff > cap ? cap : backoff;
    }
    uint64_t spread = delay / 10;
    if (spread)
        delay = delay - spread / 2 + next_rand(h) % spread;
    uv_timer_start(&h->timer, on_tick, delay, 0);
}

static void free_instance(ioc_host_t *h)
{
    cJSON_Delete(h->json);
    free(h->name);
    free(h);
}

/* Frees the set once it is closing and every stopped instance has let go of its handles. */
static void maybe_closed(collectors_t *c)
{
    if (!c->closing || c->stopping)
        return;
    void (*done)(void *) = c->close_done;
    void *ud = c->close_ud;
    free(c->plugin_dir);
    free(c);
    if (done)
        done(ud);
}

static void on_instance_handle_closed(uv_handle_t *hd)
{
    ioc_host_t *h = hd->data;
    if (--h->open_handles)
        return;
    collectors_t *c = h->owner;
    free_instance(h);
    c->stopping--;
    maybe_closed(c);
}

/* The plugin's handles are gone: close ours. */
static void on_plugin_closed(ioc_host_t *h)
{
    uv_close((uv_handle_t *)&h->timer, on_instance_handle_closed);
    uv_close((uv_handle_t *)&h->timeout_timer, on_instance_handle_closed);
}

static void stop_instance(ioc_host_t *h)
{
    h->stopping = true;
    h->owner->stopping++;
    uv_timer_stop(&h->timer);
    uv_timer_stop(&h->timeout_timer);
    char qn[128];
    log_info("collect", "event=collector_stop collector=%s plugin=%s",
             log_q(qn, sizeof qn, h->name), h->desc->name);
    h->desc->stop(h->state, on_plugin_closed, h);
}

/* Loads and initialises (not starts) an instance for one config entry. */
static int make_instance(collectors_t *c, const config_collector_t *cc, ioc_host_t **out,
                         char *err, size_t errlen)
{
    char perr[512];
    const ioc_collector_desc_t *desc;
    int rc = plugin_load(c->plugin_dir, cc->plugin, &desc, perr, sizeof perr);
    if (rc) {
        snprintf(err, errlen, "collector \"%s\": %s", cc->name, perr);
        return rc;
    }
    ioc_host_t *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(cc->name)) || !(h->json = cJSON_Duplicate(cc->json, 1))) {
        if (h)
            free(h->name);
        free(h);
        return IOC_ENOMEM;
    }
    h->owner = c;
    h->desc = desc;
    h->interval_ms = cc->interval_ms;
    h->timeout_ms = cc->timeout_ms ? cc->timeout_ms : cc->interval_ms;
    h->rng = (hashmap_hash(cc->name) ^ (uint64_t)wall_us()) | 1;
    rc = desc->init(&services, h, &h->state, perr, sizeof perr);
    if (rc) {
        snprintf(err, errlen, "collector \"%s\" (plugin %s): %s", cc->name, cc->plugin, perr);
        free_instance(h);
        return rc;
    }
    uv_timer_init(c->loop, &h->timer);
    uv_timer_init(c->loop, &h->timeout_timer);
    h->timer.data = h->timeout_timer.data = h;
    h->open_handles = 2;
    *out = h;
    return IOC_OK;
}

static void start_instance(ioc_host_t *h)
{
    char qn[128];
    if (h->desc->start) {
        int rc = h->desc->start(h->state);
        if (rc) {
            h->errors++;
            h->failures++;
            complain(h, "start_failed", ioc_strerror(rc));
        }
    }
    log_info("collect", "event=collector_start collector=%s plugin=%s interval_ms=%llu",
             log_q(qn, sizeof qn, h->name), h->desc->name, (unsigned long long)h->interval_ms);
    if (h->desc->collect) {
        /* First run after a random fraction of the interval so instances do not fire together. */
        uint64_t first = h->interval_ms ? next_rand(h) % h->interval_ms : 0;
        uv_timer_start(&h->timer, on_tick, first, 0);
    }
}

static ioc_host_t *find_running(collectors_t *c, const char *name)
{
    for (ioc_host_t *h = c->list; h; h = h->next)
        if (strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

static bool unchanged(const ioc_host_t *h, const config_collector_t *cc)
{
    return cJSON_Compare(h->json, cc->json, 1);
}

int collectors_apply(collectors_t *c, const config_t *cfg, char *err, size_t errlen)
{
    size_t n = cfg->ncollectors;
    ioc_host_t **fresh = calloc(n ? n : 1, sizeof *fresh);
    if (!fresh)
        return IOC_ENOMEM;
    int rc = IOC_OK;
    /* Phase 1: load and init every new or changed instance; nothing running is touched yet. */
    for (size_t i = 0; i < n; i++) {
        const config_collector_t *cc = &cfg->collectors[i];
        ioc_host_t *old = find_running(c, cc->name);
        if (!cc->enabled || (old && unchanged(old, cc)))
            continue;
        rc = make_instance(c, cc, &fresh[i], err, errlen);
        if (rc)
            break;
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            if (fresh[i])
                stop_instance(fresh[i]);
        free(fresh);
        return rc;
    }
    /* Phase 2: stop what is gone or replaced, then start the new ones. */
    ioc_host_t **pp = &c->list;
    while (*pp) {
        ioc_host_t *h = *pp;
        bool keep = false;
        for (size_t i = 0; i < n; i++) {
            const config_collector_t *cc = &cfg->collectors[i];
            if (strcmp(cc->name, h->name) == 0 && cc->enabled && !fresh[i])
                keep = true;
        }
        if (keep) {
            pp = &h->next;
        } else {
            *pp = h->next;
            c->count--;
            stop_instance(h);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!fresh[i])
            continue;
        fresh[i]->next = c->list;
        c->list = fresh[i];
        c->count++;
        start_instance(fresh[i]);
    }
    free(fresh);
    return IOC_OK;
}

int collectors_validate(collectors_t *c, const config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->ncollectors; i++) {
        ioc_host_t *h;
        if (!cfg->collectors[i].enabled)
            continue;
        int rc = make_instance(c, &cfg->collectors[i], &h, err, errlen);
        if (rc)
            return rc;
        stop_instance(h);
    }
    return IOC_OK;
}

static void render_metrics(strbuf_t *out, void *ud)
{
    collectors_t *c = ud;
    static const struct {
        const char *name, *type, *help;
    } defs[] = {
        {"iocd_collector_up", "gauge", "1 if the instance's last collection succeeded"},
        {"iocd_collector_collections_total", "counter", "Collections by result"},
        {"iocd_collector_samples_total", "counter", "Samples emitted and accepted"},
        {"iocd_collector_samples_dropped_total", "counter", "Samples refused by ingest (full)"},
        {"iocd_collector_samples_invalid_total", "counter", "Emits refused as invalid"},
        {"iocd_collector_consecutive_failures", "gauge", "Failed collections in a row"},
        {"iocd_collector_last_success_timestamp_seconds", "gauge",
         "Unix time of the last successful collection"},
    };
    for (size_t d = 0; d < sizeof defs / sizeof defs[0]; d++) {
        metrics_header(out, defs[d].name, defs[d].type, defs[d].help);
        for (ioc_host_t *h = c->list; h; h = h->next) {
            char lbl[256], qn[128];
            snprintf(lbl, sizeof lbl, "collector=%s,plugin=\"%s\"", log_q(qn, sizeof qn, h->name),
                     h->desc->name);
            switch (d) {
            case 0:
                strbuf_printf(out, "%s{%s} %d\n", defs[d].name, lbl,
                              h->last_success_us && !h->failures);
                break;
            case 1:
                strbuf_printf(out, "%s{%s,result=\"ok\"} %llu\n%s{%s,result=\"error\"} %llu\n"
                                   "%s{%s,result=\"timeout\"} %llu\n",
                              defs[d].name, lbl, (unsigned long long)h->ok, defs[d].name, lbl,
                              (unsigned long long)(h->errors - h->timeouts), defs[d].name, lbl,
                              (unsigned long long)h->timeouts);
                break;
            case 2:
                strbuf_printf(out, "%s{%s} %llu\n", defs[d].name, lbl, (unsigned long long)h->samples);
                break;
            case 3:
                strbuf_printf(out, "%s{%s} %llu\n", defs[d].name, lbl, (unsigned long long)h->dropped);
                break;
            case 4:
                strbuf_printf(out, "%s{%s} %llu\n", defs[d].name, lbl, (unsigned long long)h->invalid);
                break;
            case 5:
                strbuf_printf(out, "%s{%s} %u\n", defs[d].name, lbl, h->failures);
                break;
            default:
                strbuf_printf(out, "%s{%s} %.3f\n", defs[d].name, lbl, h->last_success_us / 1e6);
                break;
            }
        }
    }
}

int collectors_create(uv_loop_t *loop, const char *plugin_dir, ingest_t *ingest,
                      collectors_t **out)
{
    collectors_t *c = calloc(1, sizeof *c);
    if (!c || !(c->plugin_dir = strdup(plugin_dir))) {
        free(c);
        return IOC_ENOMEM;
    }
    c->loop = loop;
    c->ingest = ingest;
    metrics_register(render_metrics, c);
    *out = c;
    return IOC_OK;
}

void collectors_close(collectors_t *c, void (*done)(void *ud), void *ud)
{
    metrics_unregister(render_metrics, c);
    c->close_done = done;
    c->close_ud = ud;
    while (c->list) {
        ioc_host_t *h = c->list;
        c->list = h->next;
        stop_instance(h);
    }
    c->count = 0;
    c->closing = true;
    maybe_closed(c);
}

size_t collectors_count(const collectors_t *c) { return c->count; }
