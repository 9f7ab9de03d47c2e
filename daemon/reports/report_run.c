/* An export written to a file with blocking libpq: for worker threads only (XLSX, schedules). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ioc/error.h"
#include "reports/report_int.h"

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs one command; returns its result if it succeeded, else NULL with the error in err. */
static PGresult *run(PGconn *c, const char *sql, int n, const Oid *types,
                     const char *const *vals, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, types, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    err[strcspn(err, "\n")] = '\0';
    PQclear(r);
    return NULL;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return IOC_EIO;
    int rc = fsync(fd) == 0 ? IOC_OK : IOC_EIO;
    close(fd);
    return rc;
}

/* Checks the zone and the range; *whole is true for a zone with a whole-hour offset. */
static int prepare(PGconn *c, const rpt_spec_t *s, bool *whole, char *err, size_t errlen)
{
    const char *tz[1] = {s->tz}, *range[2] = {s->from, s->to};
    char why[256];
    PGresult *r = run(c, rpt_sql_tz, 1, NULL, tz, why, sizeof why);
    if (!r) {
        snprintf(err, errlen, "tz: %s", why);
        return IOC_EINVAL;
    }
    *whole = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!(r = run(c, rpt_sql_range, 2, NULL, range, why, sizeof why))) {
        snprintf(err, errlen, "from/to: %s", why);
        return IOC_EINVAL;
    }
    bool ok = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ok) {
        snprintf(err, errlen, "from: must be before to");
        return IOC_EINVAL;
    }
    return IOC_OK;
}

/* Streams the cursor's rows into the open file or workbook. */
static int copy_rows(PGconn *c, const rpt_spec_t *s, FILE *f, rpt_xlsx_t *x,
                     const atomic_bool *cancel, uint64_t *rows, char *err, size_t errlen)
{
    strbuf_t sb;
    int rc = IOC_OK;
    strbuf_init(&sb, 0);
    if (f && (rpt_fmt_head(s, &sb) || fwrite(sb.data, 1, sb.len, f) != sb.len))
        rc = IOC_EIO;
    for (int n = RPT_FETCH_ROWS; rc == IOC_OK && n == RPT_FETCH_ROWS;) {
        if (cancel && atomic_load(cancel)) {
            rc = IOC_ECLOSED;
            break;
        }
        PGresult *r = run(c, rpt_sql_fetch, 0, NULL, NULL, err, errlen);
        if (!r) {
            rc = IOC_EDB;
            break;
        }
        n = PQntuples(r);
        strbuf_reset(&sb);
        for (int i = 0; i < n && rc == IOC_OK; i++, (*rows)++) {
            if (x)
                rc = rpt_xlsx_row(x, r, i);
            else
                rc = rpt_fmt_row(s, r, i, *rows == 0, &sb);
        }
        PQclear(r);
        if (rc == IOC_ETOOBIG)
            snprintf(err, errlen, "more rows than an Excel sheet holds: use a larger step or "
                                  "one sheet per indicator");
        if (rc == IOC_OK && f && sb.len && fwrite(sb.data, 1, sb.len, f) != sb.len)
            rc = IOC_EIO;
    }
    strbuf_reset(&sb);
    if (rc == IOC_OK && f && (rpt_fmt_tail(s, &sb) || fwrite(sb.data, 1, sb.len, f) != sb.len))
        rc = IOC_EIO;
    strbuf_free(&sb);
    return rc;
}

int rpt_run_to_file(const char *dsn, const rpt_spec_t *s, const char *path,
                    const atomic_bool *cancel, uint64_t *rows, char *err, size_t errlen)
{
    char *vals[RPT_NPARAMS] = {0};
    FILE *f = NULL;
    rpt_xlsx_t *x = NULL;
    PGresult *r = NULL;
    bool whole = false;
    int rc = IOC_EDB;
    *rows = 0;
    snprintf(err, errlen, "ok");
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        err[strcspn(err, "\n")] = '\0';
        goto out;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    if ((rc = prepare(c, s, &whole, err, errlen)))
        goto out;
    if ((rc = rpt_sql_params(s, vals)))
        goto out;
    rc = IOC_EDB;
    if (!(r = run(c, "BEGIN READ ONLY", 0, NULL, NULL, err, errlen)))
        goto out;
    PQclear(r);
    if (!(r = run(c, rpt_sql_declare(s, whole), RPT_NPARAMS, rpt_sql_types,
                  (const char *const *)vals, err,
                  errlen)))
        goto out;
    PQclear(r);
    rc = IOC_EIO;
    if (s->format == RPT_XLSX ? !(x = rpt_xlsx_open(path, s)) : !(f = fopen(path, "wb"))) {
        snprintf(err, errlen, "cannot create %s", path);
        goto out;
    }
    rc = copy_rows(c, s, f, x, cancel, rows, err, errlen);
    if (x && rpt_xlsx_close(x) && rc == IOC_OK)
        rc = IOC_EIO;
    x = NULL;
    if (f && (fflush(f) || fsync(fileno(f))) && rc == IOC_OK)
        rc = IOC_EIO;
    if (rc == IOC_OK && s->format == RPT_XLSX)
        rc = fsync_path(path);
    if (rc == IOC_EIO)
        snprintf(err, errlen, "cannot write %s", path);
out:
    if (f)
        fclose(f);
    rpt_sql_params_free(vals);
    PQfinish(c);
    return rc;
}
