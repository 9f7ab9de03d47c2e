/* GET /healthz (JSON summary) and GET /metrics (Prometheus text) for the daemon's own state. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "core/metrics.h"

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static bool db_up(const app_t *app) { return app->store && store_up(app->store); }

static void handle_healthz(web_req_t *req, void *ud)
{
    app_t *app = ud;
    ingest_stats_t is;
    ingest_get_stats(app->ingest, &is);
    uint64_t spooled = spool_bytes(app->spool);
    bool healthy = db_up(app) && spooled == 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", healthy ? "ok" : "degraded");
    cJSON_AddStringToObject(o, "db", db_up(app) ? "up" : "down");
    cJSON_AddNumberToObject(o, "spool_bytes", (double)spooled);
    cJSON_AddNumberToObject(o, "spool_records", (double)spool_records(app->spool));
    cJSON_AddNumberToObject(o, "queue_batches", is.queue_batches);
    cJSON_AddNumberToObject(o, "queue_samples", is.queue_samples);
    cJSON_AddNumberToObject(o, "samples_received", (double)is.samples_received);
    cJSON_AddNumberToObject(o, "samples_committed", (double)is.samples_committed);
    cJSON_AddNumberToObject(o, "samples_dropped", (double)(is.samples_dropped_full +
                                                           is.samples_dropped_series));
    cJSON_AddNumberToObject(o, "series", (double)is.series);
    cJSON_AddNumberToObject(o, "collectors", (double)collectors_count(app->collectors));
    cJSON_AddStringToObject(o, "version", IOCD_VERSION);
    cJSON_AddNumberToObject(o, "uptime_s", (double)((now_us() - app->started_us) / 1000000));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    web_respond(req, healthy ? 200 : 503, "application/json", s, s ? strlen(s) : 0);
    cJSON_free(s);
}

static void counter(strbuf_t *out, const char *name, const char *help, uint64_t v)
{
    metrics_header(out, name, "counter", help);
    strbuf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(strbuf_t *out, const char *name, const char *help, double v)
{
    metrics_header(out, name, "gauge", help);
    strbuf_printf(out, "%s %.17g\n", name, v);
}

static void handle_metrics(web_req_t *req, void *ud)
{
    app_t *app = ud;
    strbuf_t out;
    strbuf_init(&out, 8 << 20);
    ingest_stats_t is;
    ingest_get_stats(app->ingest, &is);
    counter(&out, "iocd_samples_received_total", "Samples accepted by ingest", is.samples_received);
    counter(&out, "iocd_samples_committed_total", "Samples committed to PostgreSQL",
            is.samples_committed);
    counter(&out, "iocd_samples_spooled_total", "Samples written to the disk spool",
            is.samples_spooled);
    counter(&out, "iocd_samples_replayed_total", "Samples replayed from the spool into PostgreSQL",
            is.samples_replayed);
    counter(&out, "iocd_samples_dropped_total", "Samples dropped: spool full or disk error",
            is.samples_dropped_full);
    counter(&out, "iocd_samples_invalid_total", "Samples refused as invalid", is.samples_invalid);
    counter(&out, "iocd_samples_series_limit_total", "Samples dropped at the series limit",
            is.samples_dropped_series);
    counter(&out, "iocd_batches_sealed_total", "Batches sealed by ingest", is.batches_sealed);
    gauge(&out, "iocd_ingest_queue_batches", "Sealed batches waiting for the store",
          is.queue_batches);
    gauge(&out, "iocd_ingest_queue_samples", "Samples in batches waiting for the store",
          is.queue_samples);
    gauge(&out, "iocd_series", "Series known to this process", (double)is.series);
    gauge(&out, "iocd_spool_bytes", "Bytes in the disk spool not yet replayed",
          (double)spool_bytes(app->spool));
    gauge(&out, "iocd_spool_records", "Batches in the disk spool not yet replayed",
          (double)spool_records(app->spool));
    spool_stats_t ss;
    spool_get_stats(app->spool, &ss);
    counter(&out, "iocd_spool_rejected_full_total", "Spool appends refused: size cap reached",
            ss.rejected_full);
    counter(&out, "iocd_spool_write_errors_total", "Spool appends failed: disk error",
            ss.write_errors);
    counter(&out, "iocd_spool_corrupt_cuts_total", "Torn or corrupt spool tails cut",
            ss.corrupt_cuts);
    gauge(&out, "iocd_db_up", "1 when PostgreSQL is connected and migrated", db_up(app));
    if (app->store) {
        store_stats_t st;
        store_get_stats(app->store, &st);
        counter(&out, "iocd_db_batches_committed_total", "Batches committed", st.batches_committed);
        counter(&out, "iocd_db_batches_duplicate_total", "Replayed batches skipped as already stored",
                st.batches_duplicate);
        counter(&out, "iocd_db_commit_errors_total", "Failed commits", st.commit_errors);
        counter(&out, "iocd_db_reconnects_total", "Reconnections to PostgreSQL", st.reconnects);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    gauge(&out, "iocd_process_max_rss_bytes", "Peak resident set size", ru.ru_maxrss * 1024.0);
    gauge(&out, "iocd_uptime_seconds", "Seconds since start", (now_us() - app->started_us) / 1e6);
    metrics_render(&out);
    web_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    strbuf_free(&out);
}

int api_health_register(app_t *app)
{
    int rc = web_route(app->web, "GET", "/healthz", handle_healthz, app, 0);
    if (rc == 0)
        rc = web_route(app->web, "GET", "/metrics", handle_metrics, app, 0);
    return rc;
}
