/* CSV (RFC 4180, UTF-8, Excel options, formula neutralising) and JSON for export rows. */
#include <stdlib.h>
#include <string.h>

#include "ioc/error.h"
#include "reports/report_int.h"

static const char *const step_names[] = {"1m", "1h", "1d", "1w", "1mo"};
static const char *const cmp_names[] = {"none", "month", "year"};

const char *rpt_content_type(rpt_format_t f)
{
    switch (f) {
    case RPT_JSON: return "application/json";
    case RPT_XLSX: return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    default: return "text/csv; charset=utf-8";
    }
}

const char *rpt_extension(rpt_format_t f)
{
    return f == RPT_JSON ? "json" : f == RPT_XLSX ? "xlsx" : "csv";
}

/* A plain decimal number (what a spreadsheet reads as a number, not a formula). */
static bool plain_number(const char *v)
{
    char *end;
    if (!*v || strchr(v, ' ') || strchr(v, '\t'))
        return false;
    strtod(v, &end);
    return *end == '\0' && strspn(v, "+-0123456789.eE") == strlen(v);
}

int rpt_csv_field(strbuf_t *out, const char *v, char sep, bool text)
{
    bool neutral = text && v[0] && strchr("=+-@\t\r", v[0]) && !plain_number(v);
    bool quote = neutral || strchr(v, sep) || strchr(v, '"') || strchr(v, '\n') ||
                 strchr(v, '\r');
    if (!quote)
        return strbuf_puts(out, v);
    strbuf_puts(out, neutral ? "\"'" : "\"");
    for (const char *p = v; *p; p++) {
        const char *q = strchr(p, '"');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        strbuf_append(out, p, n);
        if (!q)
            break;
        strbuf_puts(out, "\"\"");
        p = q;
    }
    return strbuf_puts(out, "\"");
}

static int json_str(strbuf_t *out, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    strbuf_puts(out, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            strbuf_append(out, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            strbuf_append(out, esc, 6);
        } else {
            strbuf_append(out, p, 1);
        }
    }
    return strbuf_puts(out, "\"");
}

/* A number from PostgreSQL's text (already the shortest exact form), or NULL for SQL NULL and
 * non-finite values. */
static const char *num(const PGresult *res, int row, int col)
{
    const char *v = PQgetvalue(res, row, col), *d = v[0] == '-' ? v + 1 : v;
    if (PQgetisnull(res, row, col) || *d == 'N' || *d == 'I')
        return NULL;
    return v;
}

static const rpt_ind_t *ind_of(const rpt_spec_t *s, const PGresult *res, int row)
{
    long ord = strtol(PQgetvalue(res, row, RPT_COL_ORD), NULL, 10);
    return ord >= 1 && (size_t)ord <= s->ninds ? &s->inds[ord - 1] : NULL;
}

static int csv_head(const rpt_spec_t *s, strbuf_t *out)
{
    static const char *const cols[] = {"time", "indicator", "name", "unit", "group", "value",
                                       "min", "max", "samples", "attainment_pct", "previous",
                                       "delta", "delta_pct"};
    size_t n = s->compare == RPT_CMP_NONE ? 10 : 13;
    if (s->bom)
        strbuf_puts(out, "\xEF\xBB\xBF");
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_append(out, &s->sep, 1);
        strbuf_puts(out, cols[i]);
    }
    return strbuf_puts(out, "\r\n");
}

static int json_head(const rpt_spec_t *s, strbuf_t *out)
{
    strbuf_puts(out, "{\"from\":");
    json_str(out, s->from);
    strbuf_puts(out, ",\"to\":");
    json_str(out, s->to);
    strbuf_printf(out, ",\"step\":\"%s\",\"tz\":", step_names[s->step]);
    json_str(out, s->tz);
    strbuf_printf(out, ",\"compare\":\"%s\",\"indicators\":[", cmp_names[s->compare]);
    for (size_t i = 0; i < s->ninds; i++) {
        strbuf_puts(out, i ? ",{\"id\":" : "{\"id\":");
        json_str(out, s->inds[i].id);
        strbuf_puts(out, ",\"name\":");
        json_str(out, s->inds[i].name);
        strbuf_puts(out, ",\"unit\":");
        json_str(out, s->inds[i].unit);
        strbuf_puts(out, "}");
    }
    return strbuf_puts(out, "],\"rows\":[\n");
}

int rpt_fmt_head(const rpt_spec_t *s, strbuf_t *out)
{
    return s->format == RPT_JSON ? json_head(s, out) : csv_head(s, out);
}

static int csv_row(const rpt_spec_t *s, const PGresult *res, int row, strbuf_t *out)
{
    static const int numcols[] = {RPT_COL_VALUE, RPT_COL_MIN, RPT_COL_MAX, RPT_COL_SAMPLES,
                                  RPT_COL_ATT, RPT_COL_PREV, RPT_COL_DELTA, RPT_COL_PCT};
    const rpt_ind_t *ind = ind_of(s, res, row);
    const char *text[] = {PQgetvalue(res, row, RPT_COL_TS), PQgetvalue(res, row, RPT_COL_IND),
                          ind ? ind->name : "", ind ? ind->unit : "",
                          PQgetvalue(res, row, RPT_COL_GRP)};
    size_t nnum = s->compare == RPT_CMP_NONE ? 5 : 8;
    for (size_t i = 0; i < 5; i++) {
        if (i)
            strbuf_append(out, &s->sep, 1);
        rpt_csv_field(out, text[i], s->sep, true);
    }
    for (size_t i = 0; i < nnum; i++) {
        const char *v = num(res, row, numcols[i]);
        strbuf_append(out, &s->sep, 1);
        if (v)
            rpt_csv_field(out, v, s->sep, false);
    }
    return strbuf_puts(out, "\r\n");
}

static int json_row(const rpt_spec_t *s, const PGresult *res, int row, bool first,
                    strbuf_t *out)
{
    static const struct {
        const char *key;
        int col;
    } nums[] = {{"value", RPT_COL_VALUE},     {"min", RPT_COL_MIN},
                {"max", RPT_COL_MAX},         {"samples", RPT_COL_SAMPLES},
                {"attainment_pct", RPT_COL_ATT}, {"previous", RPT_COL_PREV},
                {"delta", RPT_COL_DELTA},     {"delta_pct", RPT_COL_PCT}};
    size_t nnum = s->compare == RPT_CMP_NONE ? 5 : 8;
    strbuf_puts(out, first ? "{\"ts\":" : ",\n{\"ts\":");
    json_str(out, PQgetvalue(res, row, RPT_COL_TS));
    strbuf_puts(out, ",\"indicator\":");
    json_str(out, PQgetvalue(res, row, RPT_COL_IND));
    strbuf_puts(out, ",\"group\":");
    json_str(out, PQgetvalue(res, row, RPT_COL_GRP));
    for (size_t i = 0; i < nnum; i++) {
        const char *v = num(res, row, nums[i].col);
        strbuf_printf(out, ",\"%s\":%s", nums[i].key, v ? v : "null");
    }
    return strbuf_puts(out, "}");
}

int rpt_fmt_row(const rpt_spec_t *s, const PGresult *res, int row, bool first, strbuf_t *out)
{
    return s->format == RPT_JSON ? json_row(s, res, row, first, out) : csv_row(s, res, row, out);
}

int rpt_fmt_tail(const rpt_spec_t *s, strbuf_t *out)
{
    return s->format == RPT_JSON ? strbuf_puts(out, "\n]}\n") : IOC_OK;
}
