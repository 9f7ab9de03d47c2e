/* Private definitions shared by the reports module's files. */
#ifndef IOCD_REPORT_INT_H
#define IOCD_REPORT_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

#include "config/config.h"
#include "core/strbuf.h"
#include "reports/reports.h"

#define RPT_DEFAULT_TZ "Asia/Ho_Chi_Minh"
#define RPT_FETCH_ROWS 5000      /* rows per FETCH from the export cursor */
#define RPT_MAX_EXPORTS 4        /* exports running at once (more get 429) */
#define RPT_MAX_INDICATORS 1024
#define RPT_XLSX_MAX_ROWS 1048575 /* Excel's rows per sheet, minus the header */
#define RPT_NPARAMS 10

typedef enum { RPT_CSV, RPT_JSON, RPT_XLSX } rpt_format_t;
typedef enum { RPT_STEP_1M, RPT_STEP_1H, RPT_STEP_1D, RPT_STEP_1W, RPT_STEP_1MO } rpt_step_t;
typedef enum { RPT_CMP_NONE, RPT_CMP_MONTH, RPT_CMP_YEAR } rpt_cmp_t;

/* Columns of the export cursor's rows (report_sql.c). */
enum {
    RPT_COL_TS, RPT_COL_IND, RPT_COL_GRP, RPT_COL_VALUE, RPT_COL_MIN, RPT_COL_MAX,
    RPT_COL_SAMPLES, RPT_COL_ATT, RPT_COL_PREV, RPT_COL_DELTA, RPT_COL_PCT, RPT_COL_ORD
};

/* One exported indicator: what the file says about it and when its value counts as ok. */
typedef struct rpt_ind {
    char *id, *name, *unit;  /* owned; name in the report's language */
    char ok_op[3];           /* ">=", ">", "<=", "<", or "" (always ok) */
    double ok_val;
} rpt_ind_t;

/* What to export. Strings owned. */
typedef struct rpt_spec {
    rpt_ind_t *inds;
    size_t ninds;
    char from[64], to[64];   /* ISO 8601 (an offset, or none: local time in tz) */
    char tz[64];
    char *group;             /* a group, "" for the total, or NULL for every group */
    rpt_step_t step;
    rpt_cmp_t compare;
    rpt_format_t format;
    bool bom;                /* CSV: UTF-8 byte order mark (Excel) */
    char sep;                /* CSV: ',' or ';' */
    bool long_table;         /* XLSX: one sheet for all, instead of one sheet per indicator */
} rpt_spec_t;

typedef struct rpt_export rpt_export_t;
typedef struct rpt_sched rpt_sched_t;

/* A scheduled report (config `reports` entry), checked and owned by the module. */
struct rpt_sched {
    char *name;
    char kind[10];       /* "daily", "weekly", "monthly" */
    int day;             /* weekly: 1 (Monday) to 7; monthly: day of the month 1-28 */
    char at[6];          /* "HH:MM" local time */
    char range[40];      /* "previous_day", "previous_week", "previous_month" or an interval */
    char *dir, *webhook; /* webhook may be NULL */
    rpt_spec_t spec;     /* from/to filled in at each run */
};

struct reports {
    uv_loop_t *loop;
    char *dsn;               /* NULL until reports_set_dsn */
    char *tmp_dir;
    reports_clock_fn now;
    void *now_ud;
    uint64_t check_ms;
    rpt_sched_t *scheds;     /* current schedules */
    size_t nscheds;
    rpt_sched_t *next_scheds; /* taken at the next check (reports_apply while a run is busy) */
    size_t next_nscheds;
    bool has_next;
    uv_timer_t timer;
    bool sched_busy;         /* a check runs in a worker thread */
    atomic_bool cancel;      /* asks the scheduler's worker to stop */
    rpt_export_t *exports;   /* running exports */
    int nexports;
    int nworkers;            /* exports' work in worker threads */
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* Schedules (report_sched.c). */
/* Parses and checks cfg->reports (an array, as config_load checked) into *out (count in *n).
 * Returns 0 or IOC_EINVAL/ENOMEM with "file:line:column: reports[i].key: what is wrong" in err. */
int rpt_sched_parse(const config_t *cfg, rpt_sched_t **out, size_t *n, char *err, size_t errlen);
/* Frees n schedules. */
void rpt_sched_free(rpt_sched_t *s, size_t n);
/* Runs schedule checks first_ms from now, then every check_ms (reports.c). */
void rpt_sched_arm(reports_t *r, uint64_t first_ms);
/* Starts a schedule check in a worker thread if none is running. */
void rpt_sched_check(reports_t *r);
/* Cancels every running export (reports_close). */
void rpt_export_cancel_all(reports_t *r);
/* Frees the module once nothing runs any more (after reports_close). */
void rpt_maybe_done(reports_t *r);


/* Looks a query parameter up (web_req_query or a config object). */
typedef const char *(*rpt_get_fn)(void *ud, const char *name);

/* Fills s from parameters (indicators, from, to, step, format, group, compare, tz, bom, sep,
 * lang, layout) against cfg's indicators. Returns 0, or IOC_EINVAL with the parameter's name
 * in param and what is wrong in msg. s is freed with rpt_spec_free either way. */
int rpt_spec_parse(const config_t *cfg, rpt_get_fn get, void *ud, rpt_spec_t *s, char *param,
                   size_t plen, char *msg, size_t mlen);
/* The same without from and to (for schedules, whose range is computed at each run). */
int rpt_spec_options(const config_t *cfg, rpt_get_fn get, void *ud, rpt_spec_t *s,
                     char *param, size_t plen, char *msg, size_t mlen);
/* Frees what s owns. */
void rpt_spec_free(rpt_spec_t *s);
/* Parses one option; each returns 0 or -1. */
int rpt_parse_step(const char *v, rpt_step_t *out);
int rpt_parse_format(const char *v, rpt_format_t *out);
int rpt_parse_compare(const char *v, rpt_cmp_t *out);
/* True if s is an ISO 8601 date or date-time (offset optional) with valid fields. */
bool rpt_time_ok(const char *s);
/* True if tz names a zone in the system's tz database (e.g. "Asia/Ho_Chi_Minh", "UTC"). */
bool rpt_tz_ok(const char *tz);
/* Copies the indicators of cfg named by ids (NULL: all) into s->inds. Returns 0, or
 * IOC_ENOTFOUND with the unknown id in msg, or IOC_ENOMEM. */
int rpt_spec_set_indicators(rpt_spec_t *s, const config_t *cfg, const cJSON *ids, bool english,
                            char *msg, size_t mlen);

/* SQL (report_sql.c). The steps of an export, in order, on one connection: */
extern const char rpt_sql_tz[];    /* $1 tz: sets TimeZone; one row: whole-hour offset (t/f) */
extern const char rpt_sql_range[]; /* $1 from, $2 to: one row: from < to (t/f) */
extern const char rpt_sql_fetch[]; /* FETCH RPT_FETCH_ROWS from the cursor */
/* The DECLARE of the export cursor, reading hourly rollups when whole_hours allows it. */
const char *rpt_sql_declare(const rpt_spec_t *s, bool whole_hours);
extern const Oid rpt_sql_types[RPT_NPARAMS]; /* the DECLARE's parameter types */
/* The DECLARE's parameter values (RPT_NPARAMS; NULL entries are SQL NULL), malloc'd into
 * vals; free with rpt_sql_params_free. Returns 0 or IOC_ENOMEM. */
int rpt_sql_params(const rpt_spec_t *s, char *vals[RPT_NPARAMS]);
void rpt_sql_params_free(char *vals[RPT_NPARAMS]);

/* Formatting CSV and JSON (report_fmt.c): header, rows of a FETCH result, trailer. */
int rpt_fmt_head(const rpt_spec_t *s, strbuf_t *out);
int rpt_fmt_row(const rpt_spec_t *s, const PGresult *res, int row, bool first, strbuf_t *out);
int rpt_fmt_tail(const rpt_spec_t *s, strbuf_t *out);
/* Appends a CSV field: quoted when needed (RFC 4180); text that a spreadsheet would read as
 * a formula (= + - @, tab, CR first) gets a leading ' unless it is a plain number. */
int rpt_csv_field(strbuf_t *out, const char *v, char sep, bool text);
const char *rpt_content_type(rpt_format_t f);
const char *rpt_extension(rpt_format_t f);

/* XLSX (report_xlsx.c), blocking file work for worker threads. */
typedef struct rpt_xlsx rpt_xlsx_t;
/* Creates the workbook at path. Returns NULL on failure. */
rpt_xlsx_t *rpt_xlsx_open(const char *path, const rpt_spec_t *s);
/* Adds one row of a FETCH result. Returns 0, or IOC_ETOOBIG past Excel's rows per sheet. */
int rpt_xlsx_row(rpt_xlsx_t *x, const PGresult *res, int row);
/* Writes and closes the workbook. Returns 0 or IOC_EIO. */
int rpt_xlsx_close(rpt_xlsx_t *x);

/* Runs an export with blocking libpq into a file at path (worker threads only): rows counted
 * in *rows; cancel is polled between fetches. Returns 0, IOC_EINVAL (bad tz or range: err
 * says which), IOC_EDB, IOC_EIO or IOC_ECLOSED (cancelled). */
int rpt_run_to_file(const char *dsn, const rpt_spec_t *s, const char *path,
                    const atomic_bool *cancel, uint64_t *rows, char *err, size_t errlen);

#endif
