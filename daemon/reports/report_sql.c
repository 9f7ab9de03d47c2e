/* The export's SQL: calendar buckets in a time zone over the engine's rollups, attainment of the
 * target, and the same buckets a month or a year earlier. Only parameters carry user input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "ioc/error.h"
#include "reports/report_int.h"

const char rpt_sql_tz[] =
    "SELECT set_config('TimeZone', $1, false) IS NOT NULL AND"
    " coalesce((SELECT extract(minute FROM utc_offset) = 0 AND extract(second FROM utc_offset) = 0"
    " FROM pg_timezone_names WHERE name = $1), false)";

const char rpt_sql_range[] = "SELECT $1::timestamptz < $2::timestamptz";

#define STR_(x) #x
#define STR(x) STR_(x)
const char rpt_sql_fetch[] = "FETCH FORWARD " STR(RPT_FETCH_ROWS) " FROM rpt";

/* The mean value weights each source row by its ticks (the engine's evaluations), as the
 * engine does for hours and days; samples are the raw samples counted in the bucket; the
 * attainment is the share of ticks whose source row met the indicator's ok rule. */
#define MEAN "sum(s.value * s.ticks) / nullif(sum(s.ticks) FILTER (WHERE s.value IS NOT NULL), 0)"
#define OK_ROW                                                                                  \
    "CASE i.op WHEN '>=' THEN s.value >= i.val WHEN '>' THEN s.value > i.val"                   \
    " WHEN '<=' THEN s.value <= i.val WHEN '<' THEN s.value < i.val ELSE true END"

/* Buckets coarser than the rollup rows: aggregated per group and bucket. */
#define INNER_AGG(table)                                                                        \
    "SELECT s.grp, date_trunc($7, s.ts, $6) AS b,"                                              \
    " " MEAN " AS v, sum(s.count) AS n, min(s.min) AS lo, max(s.max) AS hi,"                    \
    " coalesce(sum(s.ticks) FILTER (WHERE s.value IS NOT NULL AND " OK_ROW "), 0) AS okt,"      \
    " sum(s.ticks) FILTER (WHERE s.value IS NOT NULL) AS vt"                                    \
    " FROM " table " s WHERE s.indicator = i.id"                                                \
    " AND s.ts >= $4::timestamptz AND s.ts < $5::timestamptz"                                   \
    " AND ($9::text IS NULL OR s.grp = $9::text) GROUP BY 1, 2 ORDER BY 1, 2"

/* Buckets equal to the rollup rows: the rows themselves, read in primary key order (no sort,
 * no aggregation: the first rows flow at once whatever the range). */
#define INNER_ROWS(table)                                                                       \
    "SELECT s.grp, s.ts AS b, s.value AS v, s.count AS n, s.min AS lo, s.max AS hi,"            \
    " CASE WHEN s.value IS NOT NULL AND " OK_ROW " THEN s.ticks ELSE 0 END AS okt,"             \
    " CASE WHEN s.value IS NOT NULL THEN s.ticks END AS vt"                                     \
    " FROM " table " s WHERE s.indicator = i.id"                                                \
    " AND s.ts >= $4::timestamptz AND s.ts < $5::timestamptz"                                   \
    " AND ($9::text IS NULL OR s.grp = $9::text) ORDER BY s.grp, s.ts"

/* One lateral subquery per indicator, in the order asked, each through the primary key
 * (indicator, grp, ts): rows come out ordered by indicator, group and time without a sort of
 * the whole range. With a comparison, the shifted bucket is read the same way per row. */
#define HEAD                                                                                    \
    "DECLARE rpt NO SCROLL CURSOR FOR"                                                          \
    " SELECT to_char(c.b, 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'), i.id, c.grp, c.v, c.lo, c.hi,"   \
    "   c.n, 100 * c.okt::float8 / nullif(c.vt, 0),"
#define FROM(inner)                                                                             \
    " FROM unnest($1::text[], $2::text[], $3::float8[]) WITH ORDINALITY AS i(id, op, val, ord)" \
    " CROSS JOIN LATERAL (" inner ") c"
#define PLAIN(inner)                                                                            \
    HEAD " NULL::float8, NULL::float8, NULL::float8, i.ord" FROM(inner)
#define COMPARED(inner, table)                                                                  \
    HEAD " p.v, c.v - p.v, 100 * (c.v - p.v) / nullif(abs(p.v), 0), i.ord" FROM(inner)         \
    " LEFT JOIN LATERAL (SELECT " MEAN " AS v FROM " table " s"                                 \
    "   WHERE s.indicator = i.id AND s.grp = c.grp"                                             \
    "   AND s.ts >= ((c.b AT TIME ZONE $6) - $10::interval) AT TIME ZONE $6"                    \
    "   AND s.ts < ((c.b AT TIME ZONE $6) + $8::interval - $10::interval) AT TIME ZONE $6) p"   \
    "   ON true"

/* Every parameter's type, so that a variant may leave some unused. */
const Oid rpt_sql_types[RPT_NPARAMS] = {1009 /* text[] */, 1009, 1022 /* float8[] */,
                                        1184 /* timestamptz */, 1184, 25 /* text */, 25,
                                        1186 /* interval */, 25, 1186};

/* [compared][source: rows of 1m, rows of 1h, aggregated 1m, aggregated 1h] */
static const char *const sql_declare[2][4] = {
    {PLAIN(INNER_ROWS("rollup_1m")), PLAIN(INNER_ROWS("rollup_1h")),
     PLAIN(INNER_AGG("rollup_1m")), PLAIN(INNER_AGG("rollup_1h"))},
    {COMPARED(INNER_ROWS("rollup_1m"), "rollup_1m"), COMPARED(INNER_ROWS("rollup_1h"), "rollup_1h"),
     COMPARED(INNER_AGG("rollup_1m"), "rollup_1m"), COMPARED(INNER_AGG("rollup_1h"), "rollup_1h")},
};

const char *rpt_sql_declare(const rpt_spec_t *s, bool whole_hours)
{
    int cmp = s->compare != RPT_CMP_NONE, src;
    /* hourly rollups are UTC hours: they are local hours only in a whole-hour zone */
    if (s->step == RPT_STEP_1M)
        src = 0;
    else if (!whole_hours)
        src = 2;
    else
        src = s->step == RPT_STEP_1H ? 1 : 3;
    return sql_declare[cmp][src];
}

/* A PostgreSQL array literal of quoted strings. */
static char *text_array(const rpt_spec_t *s, bool ops)
{
    strbuf_t sb;
    strbuf_init(&sb, 0);
    strbuf_puts(&sb, "{");
    for (size_t i = 0; i < s->ninds; i++) {
        const char *v = ops ? s->inds[i].ok_op : s->inds[i].id;
        strbuf_puts(&sb, i ? ",\"" : "\"");
        for (; *v; v++) {
            if (*v == '"' || *v == '\\')
                strbuf_append(&sb, "\\", 1);
            strbuf_append(&sb, v, 1);
        }
        strbuf_puts(&sb, "\"");
    }
    strbuf_puts(&sb, "}");
    if (sb.overflow) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_steal(&sb, NULL);
}

static char *num_array(const rpt_spec_t *s)
{
    strbuf_t sb;
    strbuf_init(&sb, 0);
    strbuf_puts(&sb, "{");
    for (size_t i = 0; i < s->ninds; i++)
        strbuf_printf(&sb, "%s%.17g", i ? "," : "", s->inds[i].ok_val);
    strbuf_puts(&sb, "}");
    if (sb.overflow) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_steal(&sb, NULL);
}

int rpt_sql_params(const rpt_spec_t *s, char *vals[RPT_NPARAMS])
{
    static const char *const fields[] = {"minute", "hour", "day", "week", "month"};
    static const char *const steps[] = {"1 minute", "1 hour", "1 day", "1 week", "1 month"};
    memset(vals, 0, RPT_NPARAMS * sizeof *vals);
    vals[0] = text_array(s, false);
    vals[1] = text_array(s, true);
    vals[2] = num_array(s);
    vals[3] = strdup(s->from);
    vals[4] = strdup(s->to);
    vals[5] = strdup(s->tz);
    vals[6] = strdup(fields[s->step]);
    vals[7] = strdup(steps[s->step]);
    bool ok = vals[0] && vals[1] && vals[2] && vals[3] && vals[4] && vals[5] && vals[6] &&
              vals[7];
    if (s->group)
        ok = ok && (vals[8] = strdup(s->group));
    if (s->compare != RPT_CMP_NONE)
        ok = ok && (vals[9] = strdup(s->compare == RPT_CMP_MONTH ? "1 month" : "1 year"));
    if (!ok) {
        rpt_sql_params_free(vals);
        return IOC_ENOMEM;
    }
    return IOC_OK;
}

void rpt_sql_params_free(char *vals[RPT_NPARAMS])
{
    for (int i = 0; i < RPT_NPARAMS; i++) {
        free(vals[i]);
        vals[i] = NULL;
    }
}
