/* Reports for analysts: streamed exports (GET /api/v1/export) and scheduled report files. */
#ifndef IOCD_REPORTS_H
#define IOCD_REPORTS_H

#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "web/web.h"

typedef struct reports reports_t;

/* Wall-clock time in microseconds since the epoch (injectable for tests). */
typedef int64_t (*reports_clock_fn)(void *ud);

typedef struct reports_opts {
    reports_clock_fn now; /* NULL: the system clock */
    void *now_ud;
    uint64_t check_ms;    /* how often schedules are checked; 0: every 30 s */
    const char *tmp_dir;  /* where XLSX exports are built before they are sent (e.g. state_dir) */
} reports_opts_t;

/* Validates cfg->reports (errors "file:line:column: reports[i].key: what is wrong"), and that
 * the indicators it names exist. Returns 0 or IOC_EINVAL with the message in err. */
int reports_check_config(const config_t *cfg, char *err, size_t errlen);
/* Validates cfg->reports and creates the module on loop; schedules start with reports_set_dsn.
 * Returns 0 and *out, or a negative ioc_err_t with the message in err. */
int reports_create(uv_loop_t *loop, const config_t *cfg, const reports_opts_t *opts,
                   reports_t **out, char *err, size_t errlen);
/* Gives the module its database (connection string, copied); starts the schedule checks. */
void reports_set_dsn(reports_t *r, const char *dsn);
/* Takes the schedules of a new configuration (already validated with reports_check_config). */
void reports_apply(reports_t *r, const config_t *cfg);
/* Serves GET /api/v1/export for req (after the role check) with the indicators of cfg:
 * parses the query, answers 400 naming the bad parameter, 429 when too many exports run,
 * 503 without a database, else streams the report. */
void reports_export(reports_t *r, web_req_t *req, const config_t *cfg);
/* Cancels exports, waits for report runs in worker threads to stop, then frees the module and
 * calls done (may be NULL). */
void reports_close(reports_t *r, void (*done)(void *ud), void *ud);

#endif
