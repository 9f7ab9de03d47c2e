/* The store's schema: migration SQL and daily partition names and DDL. */
#include <stdio.h>
#include <string.h>

#include "ioc/error.h"
#include "store/store_schema.h"

/* Never edit a migration once released: append a new one. */
const store_migration_t store_migrations[] = {
    {1, "CREATE TABLE series ("
        "  id bigserial PRIMARY KEY,"
        "  metric text NOT NULL,"
        "  tags jsonb NOT NULL,"
        "  created_at timestamptz DEFAULT now(),"
        "  UNIQUE (metric, tags));"
        /* Raw samples by day. Only a BRIN index on ts: a btree on (series_id, ts) cuts binary
         * COPY from ~1.9M to ~360k rows/s, and history reads the rollups instead. */
        "CREATE TABLE samples ("
        "  series_id bigint NOT NULL,"
        "  ts timestamptz NOT NULL,"
        "  value double precision NOT NULL"
        ") PARTITION BY RANGE (ts);"
        "CREATE INDEX samples_ts_brin ON samples USING brin (ts);"
        "CREATE TABLE ingest_batches ("
        "  batch_id bigint PRIMARY KEY,"
        "  samples int NOT NULL,"
        "  committed_at timestamptz DEFAULT now());"
        "CREATE VIEW samples_view AS"
        "  SELECT s.ts, r.metric, r.tags, s.value"
        "  FROM samples s JOIN series r ON r.id = s.series_id;"
        "COMMENT ON VIEW samples_view IS "
        "  'Raw samples: ts, metric, tags (jsonb), value. Stable interface for analysts.';"},
    /* Indicator rollups (engine): 1m rows upserted, 1h and 1d recomputed from them. */
    {2, "CREATE TABLE rollup_1m ("
        "  indicator text NOT NULL, grp text NOT NULL, ts timestamptz NOT NULL,"
        "  value double precision, count bigint NOT NULL DEFAULT 0,"
        "  min double precision, max double precision, ticks integer NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (indicator, grp, ts));"
        "CREATE TABLE rollup_1h (LIKE rollup_1m INCLUDING ALL);"
        "CREATE TABLE rollup_1d (LIKE rollup_1m INCLUDING ALL);"
        "CREATE INDEX rollup_1m_ts ON rollup_1m (ts);"
        "CREATE INDEX rollup_1h_ts ON rollup_1h (ts);"
        "CREATE VIEW rollups_1m AS SELECT ts, indicator, grp, value, count, min, max FROM rollup_1m;"
        "CREATE VIEW rollups_1h AS SELECT ts, indicator, grp, value, count, min, max FROM rollup_1h;"
        "CREATE VIEW rollups_1d AS SELECT ts, indicator, grp, value, count, min, max FROM rollup_1d;"
        "COMMENT ON VIEW rollups_1m IS 'Indicator values per minute: ts (start), indicator, grp "
        "(group, empty for the total), value (mean at the ticks), count (samples), min, max.';"
        "COMMENT ON VIEW rollups_1h IS 'Indicator values per hour (UTC), from rollups_1m.';"
        "COMMENT ON VIEW rollups_1d IS 'Indicator values per day (UTC), from rollups_1h.';"},
    /* Access control (auth): people, their sessions, runtime API tokens, the audit log. Secrets
     * are stored only as argon2id strings (passwords) or SHA-256 digests (session and API tokens). */
    {3, "CREATE TABLE users ("
        "  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, role text NOT NULL,"
        "  pwhash text NOT NULL, disabled boolean NOT NULL DEFAULT false,"
        "  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE sessions ("
        "  id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,"
        "  token_sha256 bytea NOT NULL UNIQUE, peer text,"
        "  created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL);"
        "CREATE INDEX sessions_expires ON sessions (expires_at);"
        "CREATE TABLE api_tokens ("
        "  id bigserial PRIMARY KEY, name text NOT NULL, role text NOT NULL,"
        "  token_sha256 bytea NOT NULL UNIQUE, created_by text NOT NULL,"
        "  created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz);"
        "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;"
        "CREATE TABLE audit_log ("
        "  id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now(), actor text NOT NULL,"
        "  action text NOT NULL, target text, peer text, detail jsonb);"
        "CREATE INDEX audit_log_ts ON audit_log (ts);"
        "COMMENT ON TABLE audit_log IS 'Who (actor), when (ts), what (action, target, detail), "
        "from where (peer): log-ins, user, token and rule changes, acks, exports.';"},
    /* Alerts: rules made over the API, each alert (one episode of a rule and group) with its
     * current document, every transition, ack and silence as history, webhook deliveries. */
    {4, "CREATE TABLE alert_rules ("
        "  id text PRIMARY KEY, def jsonb NOT NULL,"
        "  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE alerts ("
        "  id bigint PRIMARY KEY, rule_id text NOT NULL, grp text NOT NULL, state text NOT NULL,"
        "  severity text NOT NULL, started_at timestamptz NOT NULL, fired_at timestamptz,"
        "  resolved_at timestamptz, value double precision, doc jsonb NOT NULL,"
        "  updated_at timestamptz NOT NULL DEFAULT now());"
        "CREATE INDEX alerts_state ON alerts (state) WHERE state IN ('pending', 'firing');"
        "CREATE INDEX alerts_rule ON alerts (rule_id, id);"
        "CREATE TABLE alert_events ("
        "  id bigserial PRIMARY KEY, alert_id bigint NOT NULL, rule_id text NOT NULL,"
        "  grp text NOT NULL, ts timestamptz NOT NULL, event text NOT NULL, state text NOT NULL,"
        "  value double precision, who text, comment text);"
        "CREATE INDEX alert_events_alert ON alert_events (alert_id);"
        "CREATE INDEX alert_events_ts ON alert_events (ts);"
        "CREATE TABLE alert_deliveries ("
        "  id bigserial PRIMARY KEY, alert_id bigint NOT NULL, rule_id text NOT NULL,"
        "  channel text NOT NULL, target text NOT NULL, event text NOT NULL, attempt int NOT NULL,"
        "  ok boolean NOT NULL, status int, error text, ts timestamptz NOT NULL DEFAULT now());"
        "CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);"
        "COMMENT ON TABLE alert_events IS 'Alert history: every transition (pending, firing, "
        "resolved, cancelled, flapping_start/end), ack and silence, with who and comment.';"},
    /* Reports: the history of scheduled report runs (one row per attempt). */
    {5, "CREATE TABLE report_runs ("
        "  id bigserial PRIMARY KEY, report text NOT NULL, scheduled_for timestamptz NOT NULL,"
        "  started_at timestamptz NOT NULL, finished_at timestamptz, status text NOT NULL,"
        "  rows bigint, path text, error text);"
        "CREATE INDEX report_runs_report ON report_runs (report, scheduled_for);"
        "COMMENT ON TABLE report_runs IS 'Scheduled report runs: report, the due time it is for, "
        "when it ran, ok or failed, rows, the file written or the error.';"},
};
const int store_nmigrations = (int)(sizeof store_migrations / sizeof store_migrations[0]);

/* Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t store_day_of_us(int64_t ts_us)
{
    const int64_t day_us = 86400LL * 1000000LL;
    return ts_us >= 0 ? ts_us / day_us : -((-(ts_us + 1)) / day_us) - 1;
}

int64_t store_day_parse(const char *name)
{
    static const char prefix[] = "samples_";
    size_t plen = sizeof prefix - 1;
    if (strncmp(name, prefix, plen) != 0 || strlen(name) != plen + 8)
        return INT64_MIN;
    int v[8];
    for (int i = 0; i < 8; i++) {
        char ch = name[plen + i];
        if (ch < '0' || ch > '9')
            return INT64_MIN;
        v[i] = ch - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    int m = v[4] * 10 + v[5];
    int d = v[6] * 10 + v[7];
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > 31)
        return INT64_MIN;
    int64_t day = days_from_civil(y, m, d);
    int cy, cm, cd;
    civil_from_days(day, &cy, &cm, &cd);
    if (cy != y || cm != m || cd != d)
        return INT64_MIN; /* e.g. 20250231 */
    return day;
}

int store_sql_create_partition(strbuf_t *sql, int64_t day)
{
    int y, m, d, y2, m2, d2;
    civil_from_days(day, &y, &m, &d);
    civil_from_days(day + 1, &y2, &m2, &d2);
    return strbuf_printf(sql,
                         "CREATE TABLE IF NOT EXISTS samples_%04d%02d%02d PARTITION OF samples"
                         " FOR VALUES FROM ('%04d-%02d-%02d 00:00:00+00')"
                         " TO ('%04d-%02d-%02d 00:00:00+00');",
                         y, m, d, y, m, d, y2, m2, d2);
}

int store_sql_drop_partition(strbuf_t *sql, int64_t day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    return strbuf_printf(sql, "DROP TABLE IF EXISTS samples_%04d%02d%02d;", y, m, d);
}
