/* GET /api/v1/indicators (definitions, current values per group, status) and
 * GET /api/v1/indicators/{id}/series?from=&to=&step=&group= (history from the rollups). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/api_json.h"
#include "auth/auth.h"
#include "engine/engine.h"

#define READ_ROLES (ROLE_VIEWER | ROLE_OPERATOR | ROLE_ANALYST)
#define MAX_POINTS 10000
#define PREFIX "/api/v1/indicators/"
#define MINUTE_US (60LL * 1000000)
#define DAY_US (1440 * MINUTE_US)

typedef struct series_req {
    web_req_t *req;
    bool cancelled;
    char id[96], group[512], step[32];
    int64_t from, to;
} series_req_t;

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void handle_list(web_req_t *req, void *ud)
{
    app_t *app = ud;
    if (auth_require(app->cfg, req, READ_ROLES))
        return;
    if (!app->engine) {
        api_respond_error(req, 503, NULL, NULL, "indicators are not running");
        return;
    }
    api_respond_json(req, 200, engine_indicators_json(app->engine));
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

/* ISO 8601: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.frac]] with Z, +HH[:MM] or -HH[:MM] (none:
 * UTC; a '+' that became a space in the query is taken as '+'). Returns 0 or -1. */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
    int64_t frac_us = 0, off = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.') {
                int64_t scale = 100000;
                if (*++p < '0' || *p > '9')
                    return -1;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac_us += (*p - '0') * scale;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-' || *p == ' ') {
            int sign = *p++ == '-' ? -1 : 1;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om))
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            off = sign * ((int64_t)oh * 3600 + om * 60);
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d) /* 2025-02-30 */
        return -1;
    *out = ((int64_t)t - off) * 1000000 + frac_us;
    return 0;
}

static void on_cancel(void *ud)
{
    ((series_req_t *)ud)->cancelled = true;
}

static void on_points(void *ud, int status, cJSON *points)
{
    series_req_t *sr = ud;
    char ts[40];
    if (sr->cancelled) {
        cJSON_Delete(points);
        free(sr);
        return;
    }
    if (status) {
        api_respond_error(sr->req, 503, NULL, NULL, "database unavailable");
        free(sr);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "indicator", sr->id);
    cJSON_AddStringToObject(o, "group", sr->group);
    time_t f = (time_t)(sr->from / 1000000), t = (time_t)(sr->to / 1000000);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&f));
    cJSON_AddStringToObject(o, "from", ts);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    cJSON_AddStringToObject(o, "to", ts);
    cJSON_AddStringToObject(o, "step", sr->step);
    cJSON_AddItemToObject(o, "points", points);
    api_respond_json(sr->req, 200, o);
    free(sr);
}

/* The default step: at most ~1500 points at 1m, 1h or 1d. */
static int64_t default_step(int64_t range, char *name, size_t len)
{
    int64_t step = range <= DAY_US ? MINUTE_US : range <= 60 * DAY_US ? 60 * MINUTE_US : DAY_US;
    snprintf(name, len, "%s", step == MINUTE_US ? "1m" : step == DAY_US ? "1d" : "1h");
    return step;
}

static void handle_series(web_req_t *req, void *ud)
{
    app_t *app = ud;
    const char *path = web_req_path(req), *slash;
    char msg[256];
    uint64_t step_ms = 0;
    int64_t step;
    if (auth_require(app->cfg, req, READ_ROLES))
        return;
    const char *id = path + strlen(PREFIX);
    slash = strchr(id, '/');
    if (!slash || strcmp(slash, "/series") != 0 || slash == id || (size_t)(slash - id) >= 96) {
        api_respond_error(req, 404, NULL, NULL, "not found (GET /api/v1/indicators/{id}/series)");
        return;
    }
    series_req_t *sr = calloc(1, sizeof *sr);
    if (!sr) {
        api_respond_error(req, 500, NULL, NULL, "out of memory");
        return;
    }
    sr->req = req;
    memcpy(sr->id, id, (size_t)(slash - id));
    const char *from = web_req_query(req, "from"), *to = web_req_query(req, "to");
    const char *st = web_req_query(req, "step"), *group = web_req_query(req, "group");
    sr->to = now_us();
    if (to && parse_time(to, &sr->to)) {
        api_respond_error(req, 400, "param", "to", "expected an ISO 8601 time, e.g. 2025-01-31T08:00:00+07:00");
        goto done;
    }
    sr->from = sr->to - DAY_US;
    if (from && parse_time(from, &sr->from)) {
        api_respond_error(req, 400, "param", "from",
                      "expected an ISO 8601 time, e.g. 2025-01-31T08:00:00+07:00");
        goto done;
    }
    if (sr->from >= sr->to) {
        api_respond_error(req, 400, "param", "from", "must be before to");
        goto done;
    }
    if (st) {
        if (config_parse_duration(st, &step_ms) || step_ms < 60000 || step_ms % 60000) {
            api_respond_error(req, 400, "param", "step", "expected a whole number of minutes, at least 1m "
                                            "(e.g. 1m, 15m, 1h, 1d)");
            goto done;
        }
        step = (int64_t)step_ms * 1000;
        snprintf(sr->step, sizeof sr->step, "%s", st);
    } else {
        step = default_step(sr->to - sr->from, sr->step, sizeof sr->step);
    }
    if ((sr->to - sr->from) / step > MAX_POINTS) {
        snprintf(msg, sizeof msg, "more than %d points: use a larger step or a shorter range",
                 MAX_POINTS);
        api_respond_error(req, 400, "param", "step", msg);
        goto done;
    }
    if (group && strlen(group) >= sizeof sr->group) {
        api_respond_error(req, 400, "param", "group", "too long");
        goto done;
    }
    snprintf(sr->group, sizeof sr->group, "%s", group ? group : "");
    int rc = app->engine ? engine_series(app->engine, sr->id, sr->group, sr->from, sr->to, step,
                                         on_points, sr)
                         : IOC_EAGAIN;
    if (rc == IOC_ENOTFOUND) {
        snprintf(msg, sizeof msg, "unknown indicator \"%s\"", sr->id);
        api_respond_error(req, 404, NULL, NULL, msg);
    } else if (rc == IOC_EINVAL) {
        api_respond_error(req, 400, "param", "step", "expected a whole number of minutes, at least 1m");
    } else if (rc) {
        api_respond_error(req, 503, NULL, NULL, "database unavailable or busy, try again");
    } else {
        web_req_on_cancel(req, on_cancel, sr);
        return;
    }
done:
    free(sr);
}

int api_indicators_register(app_t *app)
{
    int rc = web_route(app->web, "GET", "/api/v1/indicators", handle_list, app, 0);
    if (rc == 0)
        rc = web_route(app->web, "GET", PREFIX "*", handle_series, app, 0);
    return rc;
}
