/* The reports module: its lifetime, the schedule timer and the clock. */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <curl/curl.h>

#include "core/log.h"
#include "ioc/error.h"
#include "reports/report_int.h"

#define DEFAULT_CHECK_MS 30000
#define FIRST_CHECK_MS 1000

static int64_t system_now(void *ud)
{
    struct timeval tv;
    (void)ud;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int reports_check_config(const config_t *cfg, char *err, size_t errlen)
{
    rpt_sched_t *s;
    size_t n;
    int rc = rpt_sched_parse(cfg, &s, &n, err, errlen);
    if (rc == IOC_OK)
        rpt_sched_free(s, n);
    return rc;
}

int reports_create(uv_loop_t *loop, const config_t *cfg, const reports_opts_t *opts,
                   reports_t **out, char *err, size_t errlen)
{
    reports_t *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r || !(r->tmp_dir = strdup(opts && opts->tmp_dir ? opts->tmp_dir : "/tmp"))) {
        free(r);
        snprintf(err, errlen, "reports: out of memory");
        return IOC_ENOMEM;
    }
    if ((rc = rpt_sched_parse(cfg, &r->scheds, &r->nscheds, err, errlen))) {
        free(r->tmp_dir);
        free(r);
        return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any worker thread uses libcurl */
    r->loop = loop;
    r->now = opts && opts->now ? opts->now : system_now;
    r->now_ud = opts ? opts->now_ud : NULL;
    r->check_ms = opts && opts->check_ms ? opts->check_ms : DEFAULT_CHECK_MS;
    atomic_init(&r->cancel, false);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    *out = r;
    return IOC_OK;
}

static void on_timer(uv_timer_t *t)
{
    rpt_sched_check(t->data);
}

void rpt_sched_arm(reports_t *r, uint64_t first_ms)
{
    if (!r->closing)
        uv_timer_start(&r->timer, on_timer, first_ms, r->check_ms);
}

void reports_set_dsn(reports_t *r, const char *dsn)
{
    if (r->dsn || !(r->dsn = strdup(dsn)))
        return;
    /* soon, once the store has migrated the schema: a run missed while iocd was down goes then */
    rpt_sched_arm(r, FIRST_CHECK_MS < r->check_ms ? FIRST_CHECK_MS : r->check_ms);
}

void reports_apply(reports_t *r, const config_t *cfg)
{
    char err[512];
    rpt_sched_t *s;
    size_t n;
    if (rpt_sched_parse(cfg, &s, &n, err, sizeof err)) {
        log_error("reports", "event=apply_failed error=\"%s\"", err);
        return;
    }
    rpt_sched_free(r->next_scheds, r->next_nscheds);
    r->next_scheds = s;
    r->next_nscheds = n;
    r->has_next = true;
    log_info("reports", "event=schedules_reloaded reports=%zu", n);
}

static void on_timer_closed(uv_handle_t *h)
{
    reports_t *r = h->data;
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    rpt_sched_free(r->scheds, r->nscheds);
    rpt_sched_free(r->next_scheds, r->next_nscheds);
    free(r->dsn);
    free(r->tmp_dir);
    free(r);
    if (done)
        done(ud);
}

void rpt_maybe_done(reports_t *r)
{
    if (!r->closing || r->sched_busy || r->nexports || r->nworkers ||
        uv_is_closing((uv_handle_t *)&r->timer))
        return;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

void reports_close(reports_t *r, void (*done)(void *ud), void *ud)
{
    if (r->closing)
        return;
    r->closing = true;
    r->done = done;
    r->done_ud = ud;
    atomic_store(&r->cancel, true);
    uv_timer_stop(&r->timer);
    rpt_export_cancel_all(r);
    rpt_maybe_done(r);
}
