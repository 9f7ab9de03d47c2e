/* Scheduled reports: config `reports` checked, due times computed in the report's time zone by
 * PostgreSQL, files written with an atomic rename, optional webhook, run history; a run missed
 * while iocd was down runs at the next check. The work happens in a worker thread. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/log.h"
#include "ioc/error.h"
#include "reports/report_int.h"

#define MAX_ATTEMPTS 3      /* failed runs of one due time before it is given up */
#define WEBHOOK_TIMEOUT_S 30
#define RETRY_MS 5000       /* the next check after one that could not read the database */

static const char *const keys[] = {"name",  "schedule", "indicators", "range",  "step",
                                   "format", "directory", "webhook",   "time_zone", "group",
                                   "compare", "lang",     "bom",        "sep",    "layout"};

/* Looks options up in a config entry for rpt_spec_options ("tz" is "time_zone"). */
typedef struct entry_get {
    const cJSON *entry;
    char *ids; /* "a,b,c" from the indicators array, owned */
} entry_get_t;

static const char *entry_value(void *ud, const char *name)
{
    entry_get_t *g = ud;
    const cJSON *v;
    if (!strcmp(name, "indicators"))
        return g->ids;
    v = cJSON_GetObjectItemCaseSensitive(g->entry, strcmp(name, "tz") ? name : "time_zone");
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "1" : "0";
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int entry_error(const config_t *cfg, size_t i, const char *key, char *err, size_t errlen,
                       const char *what)
{
    char path[96];
    int line = 0, col = 0;
    snprintf(path, sizeof path, "reports[%zu]%s%s", i, key ? "." : "", key ? key : "");
    if (config_locate(cfg, path, &line, &col) && key) {
        snprintf(path, sizeof path, "reports[%zu]", i);
        config_locate(cfg, path, &line, &col);
        snprintf(path, sizeof path, "reports[%zu].%s", i, key);
    }
    snprintf(err, errlen, "%s:%d:%d: %s: %s", cfg->path, line, col, path, what);
    return IOC_EINVAL;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n &&
           s[0] != '.';
}

/* "daily HH:MM", "weekly mon HH:MM", "monthly D HH:MM". Returns 0 or -1. */
static int parse_schedule(const char *v, rpt_sched_t *s)
{
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    char kind[10], arg[8], at[8], extra[2];
    int h, m, n = sscanf(v, "%9s %7s %7s %1s", kind, arg, at, extra);
    s->day = 0;
    if (n == 2 && !strcmp(kind, "daily"))
        snprintf(at, sizeof at, "%s", arg);
    else if (n == 3 && !strcmp(kind, "weekly")) {
        for (int i = 0; i < 7; i++)
            if (!strcmp(arg, days[i]))
                s->day = i + 1;
        if (!s->day)
            return -1;
    } else if (n == 3 && !strcmp(kind, "monthly")) {
        char *end;
        long d = strtol(arg, &end, 10);
        if (*end || d < 1 || d > 28)
            return -1;
        s->day = (int)d;
    } else {
        return -1;
    }
    if (strlen(at) != 5 || sscanf(at, "%2d:%2d", &h, &m) != 2 || at[2] != ':' || h < 0 ||
        h > 23 || m < 0 || m > 59)
        return -1;
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    snprintf(s->at, sizeof s->at, "%02d:%02d", h, m);
    return 0;
}

static int parse_range(const char *v, rpt_sched_t *s)
{
    uint64_t ms;
    if (!strcmp(v, "previous_day") || !strcmp(v, "previous_week") ||
        !strcmp(v, "previous_month")) {
        snprintf(s->range, sizeof s->range, "%s", v);
        return 0;
    }
    if (config_parse_duration(v, &ms) || ms < 60000 || ms > 3660ULL * 86400000)
        return -1;
    snprintf(s->range, sizeof s->range, "%llu milliseconds", (unsigned long long)ms);
    return 0;
}

/* Checks one entry's keys and their types. */
static int check_keys(const config_t *cfg, size_t i, const cJSON *e, char *err, size_t errlen)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, e)
    {
        size_t j;
        for (j = 0; j < sizeof keys / sizeof keys[0]; j++)
            if (!strcmp(k->string, keys[j]))
                break;
        if (j == sizeof keys / sizeof keys[0])
            return entry_error(cfg, i, k->string, err, errlen, "unknown key");
        if (!strcmp(k->string, "bom")) {
            if (!cJSON_IsBool(k))
                return entry_error(cfg, i, k->string, err, errlen, "expected true or false");
        } else if (!strcmp(k->string, "indicators")) {
            const cJSON *id;
            if (!cJSON_IsArray(k))
                return entry_error(cfg, i, k->string, err, errlen,
                                   "expected an array of indicator ids");
            cJSON_ArrayForEach(id, k)
            {
                if (!cJSON_IsString(id) || !name_ok(id->valuestring))
                    return entry_error(cfg, i, k->string, err, errlen,
                                       "expected an array of indicator ids");
            }
        } else if (!cJSON_IsString(k) || !k->valuestring[0]) {
            return entry_error(cfg, i, k->string, err, errlen, "expected a non-empty string");
        }
    }
    return IOC_OK;
}

/* Joins the ids of an indicators array with commas (NULL when absent: every indicator). */
static char *join_ids(const cJSON *arr, bool *oom)
{
    strbuf_t sb;
    const cJSON *id;
    *oom = false;
    if (!arr)
        return NULL;
    strbuf_init(&sb, 0);
    cJSON_ArrayForEach(id, arr)
    {
        strbuf_printf(&sb, "%s%s", sb.len ? "," : "", id->valuestring);
    }
    if (sb.overflow) {
        strbuf_free(&sb);
        *oom = true;
        return NULL;
    }
    return sb.data ? strbuf_steal(&sb, NULL) : strdup("all");
}

static int parse_entry(const config_t *cfg, size_t i, const cJSON *e, rpt_sched_t *all,
                       char *err, size_t errlen)
{
    rpt_sched_t *s = &all[i];
    char param[32], msg[256];
    const char *v;
    bool oom;
    int rc;
    if (!cJSON_IsObject(e))
        return entry_error(cfg, i, NULL, err, errlen, "expected an object");
    if ((rc = check_keys(cfg, i, e, err, errlen)))
        return rc;
    entry_get_t g = {.entry = e};
    if (!(v = entry_value(&g, "name")) || !name_ok(v))
        return entry_error(cfg, i, "name", err, errlen,
                           v ? "expected 1-64 of a-z, 0-9, _, . and - (not starting with .)"
                             : "required");
    for (size_t j = 0; j < i; j++)
        if (!strcmp(all[j].name, v))
            return entry_error(cfg, i, "name", err, errlen, "two reports with this name");
    if (!(s->name = strdup(v)))
        return IOC_ENOMEM;
    if (!(v = entry_value(&g, "schedule")) || parse_schedule(v, s))
        return entry_error(cfg, i, "schedule", err, errlen,
                           v ? "expected \"daily HH:MM\", \"weekly mon HH:MM\" or "
                               "\"monthly D HH:MM\" (D 1-28, local time)"
                             : "required");
    v = entry_value(&g, "range");
    if (!v)
        v = s->kind[0] == 'd' ? "previous_day" : s->kind[0] == 'w' ? "previous_week"
                                                                     : "previous_month";
    if (parse_range(v, s))
        return entry_error(cfg, i, "range", err, errlen,
                           "expected previous_day, previous_week, previous_month or a duration "
                           "from 1m to 3660d");
    if (!(v = entry_value(&g, "directory")))
        return entry_error(cfg, i, "directory", err, errlen, "required");
    if (!(s->dir = strdup(v)))
        return IOC_ENOMEM;
    if ((v = entry_value(&g, "webhook"))) {
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            return entry_error(cfg, i, "webhook", err, errlen,
                               "expected an http:// or https:// URL");
        if (!(s->webhook = strdup(v)))
            return IOC_ENOMEM;
    }
    g.ids = join_ids(cJSON_GetObjectItemCaseSensitive(e, "indicators"), &oom);
    if (oom)
        return IOC_ENOMEM;
    rc = rpt_spec_options(cfg, entry_value, &g, &s->spec, param, sizeof param, msg, sizeof msg);
    free(g.ids);
    if (rc == IOC_EINVAL)
        return entry_error(cfg, i, !strcmp(param, "tz") ? "time_zone" : param, err, errlen, msg);
    return rc;
}

int rpt_sched_parse(const config_t *cfg, rpt_sched_t **out, size_t *n, char *err, size_t errlen)
{
    const cJSON *e;
    size_t i = 0, cnt = cJSON_GetArraySize(cfg->reports);
    int rc = IOC_OK;
    *out = NULL;
    *n = 0;
    rpt_sched_t *s = calloc(cnt ? cnt : 1, sizeof *s);
    if (!s)
        return IOC_ENOMEM;
    cJSON_ArrayForEach(e, cfg->reports)
    {
        if ((rc = parse_entry(cfg, i, e, s, err, errlen)))
            break;
        i++;
    }
    if (rc) {
        if (rc == IOC_ENOMEM)
            snprintf(err, errlen, "%s: reports: out of memory", cfg->path);
        rpt_sched_free(s, cnt);
        return rc;
    }
    *out = s;
    *n = cnt;
    return IOC_OK;
}

void rpt_sched_free(rpt_sched_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].name);
        free(s[i].dir);
        free(s[i].webhook);
        rpt_spec_free(&s[i].spec);
    }
    free(s);
}

/* The latest due time at or before now, in the report's zone, and the range it covers (local
 * times without an offset: the export reads them in the same zone). */
static const char sql_due[] =
    "WITH n AS (SELECT to_timestamp($1::float8 / 1e6) AT TIME ZONE $2 AS l),"
    " c AS (SELECT l, CASE $3 WHEN 'daily' THEN date_trunc('day', l)"
    "   WHEN 'weekly' THEN date_trunc('week', l) + ($4::int - 1) * interval '1 day'"
    "   ELSE date_trunc('month', l) + ($4::int - 1) * interval '1 day' END + $5::time AS d FROM n),"
    " d AS (SELECT CASE WHEN d <= l THEN d ELSE d - CASE $3 WHEN 'daily' THEN interval '1 day'"
    "   WHEN 'weekly' THEN interval '1 week' ELSE interval '1 month' END END AS d FROM c),"
    " r AS (SELECT d, CASE $6 WHEN 'previous_day' THEN date_trunc('day', d) - interval '1 day'"
    "   WHEN 'previous_week' THEN date_trunc('week', d) - interval '1 week'"
    "   WHEN 'previous_month' THEN date_trunc('month', d) - interval '1 month'"
    "   ELSE d - $6::interval END AS f,"
    "   CASE $6 WHEN 'previous_day' THEN date_trunc('day', d)"
    "   WHEN 'previous_week' THEN date_trunc('week', d)"
    "   WHEN 'previous_month' THEN date_trunc('month', d) ELSE d END AS t FROM d)"
    " SELECT (d AT TIME ZONE $2)::text, to_char(f, 'YYYY-MM-DD\"T\"HH24:MI:SS'),"
    " to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS'), to_char(d, 'YYYY-MM-DD\"T\"HH24MI'),"
    " (SELECT count(*) FILTER (WHERE status = 'ok') FROM report_runs"
    "   WHERE report = $7 AND scheduled_for = d AT TIME ZONE $2),"
    " (SELECT count(*) FROM report_runs WHERE report = $7 AND scheduled_for = d AT TIME ZONE $2)"
    " FROM r";

static const char sql_record[] =
    "INSERT INTO report_runs (report, scheduled_for, started_at, finished_at, status, rows, path,"
    " error) VALUES ($1, $2::timestamptz, to_timestamp($3::float8 / 1e6), now(), $4, $5, $6, $7)";

/* What a worker's check works on: copies of the schedules and the time of the check. */
typedef struct sched_job {
    uv_work_t work;
    reports_t *r;
    int64_t now_us;
    bool db_failed;     /* a due time could not be read: check again soon */
} sched_job_t;

static size_t on_webhook_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* POSTs the file to the webhook. Returns 0 or -1 with the reason in err. */
static int post_file(const rpt_sched_t *s, const char *path, const char *due, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char hdr[256];
    long status = 0;
    int rc = -1;
    if (!f || !c) {
        snprintf(err, errlen, "webhook: cannot start");
        goto out;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    snprintf(hdr, sizeof hdr, "Content-Type: %s", rpt_content_type(s->spec.format));
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof hdr, "X-Iocd-Report: %s", s->name);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof hdr, "X-Iocd-Scheduled-For: %s", due);
    h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_URL, s->webhook);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READDATA, f);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_webhook_body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        snprintf(err, errlen, "webhook: %s", curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        snprintf(err, errlen, "webhook: answered %ld", status);
    else
        rc = 0;
out:
    if (f)
        fclose(f);
    curl_slist_free_all(h);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

/* Writes the report to a temporary name in its directory, then renames it into place. */
static int write_report(reports_t *r, rpt_sched_t *s, const char *stamp, char *path,
                        size_t plen, uint64_t *rows, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    snprintf(path, plen, "%s/%s-%s.%s", s->dir, s->name, stamp, rpt_extension(s->spec.format));
    snprintf(tmp, sizeof tmp, "%s/.%s-%s.tmp", s->dir, s->name, stamp);
    int rc = rpt_run_to_file(r->dsn, &s->spec, tmp, &r->cancel, rows, err, errlen);
    if (rc == IOC_OK && rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename the file into place: %s", strerror(errno));
        rc = IOC_EIO;
    }
    if (rc) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    return IOC_OK;
}

static void record(PGconn *c, const rpt_sched_t *s, const char *due, int64_t started_us,
                   bool ok, uint64_t rows, const char *path, const char *err)
{
    char started[32], nrows[32];
    snprintf(started, sizeof started, "%lld", (long long)started_us);
    snprintf(nrows, sizeof nrows, "%llu", (unsigned long long)rows);
    const char *v[7] = {s->name, due, started, ok ? "ok" : "failed", nrows, ok ? path : NULL,
                        ok ? NULL : err};
    PGresult *res = PQexecParams(c, sql_record, 7, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("reports", "event=history_failed report=%s error=\"%.200s\"", s->name,
                 PQresultErrorMessage(res));
    PQclear(res);
}

/* Runs one schedule if its latest due time has no successful run yet. */
static void check_one(sched_job_t *j, PGconn *c, rpt_sched_t *s)
{
    char now[32], day[8], path[PATH_MAX], err[512], q[600];
    uint64_t rows = 0;
    snprintf(now, sizeof now, "%lld", (long long)j->now_us);
    snprintf(day, sizeof day, "%d", s->day);
    const char *v[7] = {now, s->spec.tz, s->kind, day, s->at, s->range, s->name};
    PGresult *res = PQexecParams(c, sql_due, 7, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        log_warn("reports", "event=schedule_check_failed report=%s error=%s", s->name,
                 log_q(q, sizeof q, PQresultErrorMessage(res)));
        PQclear(res);
        j->db_failed = true;
        return;
    }
    char due[64], stamp[32];
    snprintf(due, sizeof due, "%s", PQgetvalue(res, 0, 0));
    snprintf(s->spec.from, sizeof s->spec.from, "%s", PQgetvalue(res, 0, 1));
    snprintf(s->spec.to, sizeof s->spec.to, "%s", PQgetvalue(res, 0, 2));
    snprintf(stamp, sizeof stamp, "%s", PQgetvalue(res, 0, 3));
    long done = atol(PQgetvalue(res, 0, 4)), tries = atol(PQgetvalue(res, 0, 5));
    PQclear(res);
    if (done > 0 || tries >= MAX_ATTEMPTS)
        return;
    int rc = write_report(j->r, s, stamp, path, sizeof path, &rows, err, sizeof err);
    if (rc == IOC_ECLOSED)
        return; /* shutting down: runs again at the next start */
    if (rc == IOC_OK && s->webhook && post_file(s, path, due, err, sizeof err))
        rc = IOC_EIO;
    record(c, s, due, j->now_us, rc == IOC_OK, rows, path, err);
    if (rc == IOC_OK) {
        log_info("reports", "event=report_written report=%s scheduled_for=\"%s\" rows=%llu path=%s",
                 s->name, due, (unsigned long long)rows, log_q(q, sizeof q, path));
    } else {
        log_warn("reports", "event=report_failed report=%s scheduled_for=\"%s\" attempt=%ld "
                            "error=%s", s->name, due, tries + 1, log_q(q, sizeof q, err));
    }
}

static void sched_work(uv_work_t *w)
{
    sched_job_t *j = w->data;
    reports_t *r = j->r;
    PGconn *c = PQconnectdb(r->dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        log_warn("reports", "event=schedule_check_failed error=database_unavailable");
        PQfinish(c);
        j->db_failed = true;
        return;
    }
    for (size_t i = 0; i < r->nscheds && !atomic_load(&r->cancel); i++)
        check_one(j, c, &r->scheds[i]);
    PQfinish(c);
}

static void sched_done(uv_work_t *w, int status)
{
    sched_job_t *j = w->data;
    reports_t *r = j->r;
    (void)status;
    r->sched_busy = false;
    if (j->db_failed)
        rpt_sched_arm(r, RETRY_MS < r->check_ms ? RETRY_MS : r->check_ms);
    free(j);
    rpt_maybe_done(r);
}

void rpt_sched_check(reports_t *r)
{
    if (r->sched_busy || !r->dsn || r->closing)
        return;
    if (r->has_next) { /* reports_apply while a run was busy: the new schedules start now */
        rpt_sched_free(r->scheds, r->nscheds);
        r->scheds = r->next_scheds;
        r->nscheds = r->next_nscheds;
        r->next_scheds = NULL;
        r->next_nscheds = 0;
        r->has_next = false;
    }
    if (!r->nscheds)
        return;
    sched_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->r = r;
    j->now_us = r->now(r->now_ud);
    j->work.data = j;
    r->sched_busy = true;
    if (uv_queue_work(r->loop, &j->work, sched_work, sched_done)) {
        r->sched_busy = false;
        free(j);
    }
}
