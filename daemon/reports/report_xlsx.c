/* XLSX through libxlsxwriter (constant-memory mode): one sheet per indicator or one long table,
 * header with names and units, dates and numbers with number formats. Blocking: worker threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

#include "ioc/error.h"
#include "reports/report_int.h"

struct rpt_xlsx {
    lxw_workbook *wb;
    lxw_worksheet **ws; /* one per indicator, or one long table */
    uint32_t *row;      /* next row of each sheet */
    const rpt_spec_t *s;
    size_t nsheets;
    lxw_format *f_time, *f_num, *f_int, *f_pct, *f_head;
};

/* Number columns after the text columns: column of the cursor and its number format. */
typedef struct numcol {
    int col;
    const char *head;
} numcol_t;

static const numcol_t numcols[] = {
    {RPT_COL_VALUE, NULL},       {RPT_COL_MIN, "min"},      {RPT_COL_MAX, "max"},
    {RPT_COL_SAMPLES, "samples"}, {RPT_COL_ATT, "attainment %"}, {RPT_COL_PREV, "previous"},
    {RPT_COL_DELTA, "delta"},    {RPT_COL_PCT, "delta %"},
};

static size_t nnum(const rpt_spec_t *s)
{
    return s->compare == RPT_CMP_NONE ? 5 : 8;
}

/* A sheet name Excel accepts: at most 31 characters, none of []:*?/\, unique by its index. */
static void sheet_name(const char *id, size_t idx, char *out, size_t len)
{
    char base[32];
    size_t n = 0;
    for (const char *p = id; *p && n < 31; p++)
        base[n++] = strchr("[]:*?/\\'", *p) ? '_' : *p;
    base[n] = '\0';
    if (n > 27)
        snprintf(out, len, "%.26s~%zu", base, idx % 1000);
    else
        snprintf(out, len, "%s", base);
}

static int add_sheet(rpt_xlsx_t *x, const rpt_ind_t *ind)
{
    char name[40], head[256];
    uint16_t c = 0;
    const rpt_spec_t *s = x->s;
    lxw_worksheet *ws;
    if (ind)
        sheet_name(ind->id, x->nsheets, name, sizeof name);
    else
        snprintf(name, sizeof name, "export");
    ws = workbook_add_worksheet(x->wb, name);
    if (!ws)
        return IOC_EIO;
    x->ws[x->nsheets] = ws;
    x->row[x->nsheets++] = 1;
    worksheet_write_string(ws, 0, c, "time", x->f_head);
    worksheet_set_column(ws, c, c, 17, NULL);
    c++;
    if (!ind) {
        worksheet_write_string(ws, 0, c++, "indicator", x->f_head);
        worksheet_write_string(ws, 0, c++, "name", x->f_head);
        worksheet_write_string(ws, 0, c++, "unit", x->f_head);
    }
    worksheet_write_string(ws, 0, c++, "group", x->f_head);
    for (size_t i = 0; i < nnum(s); i++) {
        const char *h = numcols[i].head;
        if (!h) {
            if (ind && ind->unit[0])
                snprintf(head, sizeof head, "%s (%s)", ind->name, ind->unit);
            else
                snprintf(head, sizeof head, "%s", ind ? ind->name : "value");
            h = head;
        }
        worksheet_write_string(ws, 0, c++, h, x->f_head);
    }
    worksheet_freeze_panes(ws, 1, 0);
    return IOC_OK;
}

static void xlsx_free(rpt_xlsx_t *x)
{
    free(x->ws);
    free(x->row);
    free(x);
}

rpt_xlsx_t *rpt_xlsx_open(const char *path, const rpt_spec_t *s)
{
    lxw_workbook_options opts = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
    rpt_xlsx_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    size_t n = s->long_table ? 1 : s->ninds;
    x->s = s;
    x->ws = calloc(n, sizeof *x->ws);
    x->row = calloc(n, sizeof *x->row);
    if (!x->ws || !x->row || !(x->wb = workbook_new_opt(path, &opts))) {
        xlsx_free(x);
        return NULL;
    }
    x->f_time = workbook_add_format(x->wb);
    format_set_num_format(x->f_time, "yyyy-mm-dd hh:mm");
    x->f_num = workbook_add_format(x->wb);
    format_set_num_format(x->f_num, "#,##0.00");
    x->f_int = workbook_add_format(x->wb);
    format_set_num_format(x->f_int, "#,##0");
    x->f_pct = workbook_add_format(x->wb);
    format_set_num_format(x->f_pct, "0.0");
    x->f_head = workbook_add_format(x->wb);
    format_set_bold(x->f_head);
    /* every sheet up front (an indicator without data still gets its header); rows then go
     * to each sheet in order, which constant-memory mode allows */
    for (size_t i = 0; i < n; i++) {
        if (add_sheet(x, s->long_table ? NULL : &s->inds[i])) {
            workbook_close(x->wb);
            xlsx_free(x);
            return NULL;
        }
    }
    return x;
}

/* "2025-01-31T08:00:00+07:00" as the local date and time it names. */
static lxw_datetime parse_local(const char *v)
{
    lxw_datetime dt = {0};
    sscanf(v, "%4d-%2d-%2dT%2d:%2d:%lf", &dt.year, &dt.month, &dt.day, &dt.hour, &dt.min, &dt.sec);
    dt.sec = 0;
    return dt;
}

int rpt_xlsx_row(rpt_xlsx_t *x, const PGresult *res, int row)
{
    const rpt_spec_t *s = x->s;
    long ord = strtol(PQgetvalue(res, row, RPT_COL_ORD), NULL, 10);
    if (ord < 1 || (size_t)ord > s->ninds)
        return IOC_EINVAL;
    const rpt_ind_t *ind = &s->inds[ord - 1];
    size_t k = s->long_table ? 0 : (size_t)ord - 1;
    lxw_worksheet *ws = x->ws[k];
    uint32_t r = x->row[k];
    uint16_t c = 0;
    if (r > RPT_XLSX_MAX_ROWS)
        return IOC_ETOOBIG;
    lxw_datetime dt = parse_local(PQgetvalue(res, row, RPT_COL_TS));
    worksheet_write_datetime(ws, r, c++, &dt, x->f_time);
    if (s->long_table) {
        worksheet_write_string(ws, r, c++, ind->id, NULL);
        worksheet_write_string(ws, r, c++, ind->name, NULL);
        worksheet_write_string(ws, r, c++, ind->unit, NULL);
    }
    worksheet_write_string(ws, r, c++, PQgetvalue(res, row, RPT_COL_GRP), NULL);
    for (size_t i = 0; i < nnum(s); i++, c++) {
        int col = numcols[i].col;
        const char *v = PQgetvalue(res, row, col), *d = v[0] == '-' ? v + 1 : v;
        if (PQgetisnull(res, row, col) || *d == 'N' || *d == 'I')
            continue;
        lxw_format *f = col == RPT_COL_SAMPLES                     ? x->f_int
                        : col == RPT_COL_ATT || col == RPT_COL_PCT ? x->f_pct
                                                                   : x->f_num;
        worksheet_write_number(ws, r, c, strtod(v, NULL), f);
    }
    x->row[k] = r + 1;
    return IOC_OK;
}

int rpt_xlsx_close(rpt_xlsx_t *x)
{
    int rc = workbook_close(x->wb) == LXW_NO_ERROR ? IOC_OK : IOC_EIO;
    xlsx_free(x);
    return rc;
}
