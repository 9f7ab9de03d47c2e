"""Reports end to end: GET /api/v1/export numbers against SQL over samples_view for the same
buckets, CSV round trip with Vietnamese names and hostile values, calendar buckets in the time
zone with month/year comparison, XLSX cells, roles and named errors, live requests served during a
large export, iocctl export, and a scheduled report written at start-up (a missed run)."""
import csv
import datetime
import http.client
import http.server
import io
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import zipfile
import xml.etree.ElementTree as ET

from harness import IOCCTL_BIN, Iocd, check, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]
TZ = "Asia/Ho_Chi_Minh"

# district tag value -> its series' constant value
DISTRICTS = {"Tân An": 12.0, "=HYPERLINK(1)": 3.0, "@cmd": 20.0, 'Bến Lức, "Q"': 7.0, "-5": -5.0}

INDICATORS = [
    {"id": "light.power", "name": {"vi": "Công suất chiếu sáng", "en": "Lighting power"},
     "unit": "kW", "metric": "light.power", "agg": "sum", "window": "5m",
     "group_by": ["district"], "target": {"op": ">=", "value": 10}},
    {"id": "hist.rate", "name": {"vi": "Tỉ lệ hồ sơ trực tuyến", "en": "Online filing rate"},
     "unit": "%", "metric": "hist.rate", "agg": "avg"},
]

TOKENS = {"analyst": "tok-analyst-" + os.urandom(6).hex(), "viewer": "tok-viewer-" + os.urandom(6).hex(),
          "writer": "tok-writer-" + os.urandom(6).hex()}


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def auth_config():
    import hashlib
    return {"tokens": [{"name": role, "role": role, "sha256": hashlib.sha256(tok.encode()).hexdigest()}
                       for role, tok in TOKENS.items()]}


def bearer(role):
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def export(d, role="analyst", **params):
    status, body, headers = d.request("GET", "/api/v1/export?" + urllib.parse.urlencode(params),
                                      headers=bearer(role), timeout=120)
    return status, body, headers


def escape_tag(v):
    return v.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def write_samples(d):
    """Samples every 20 s from 40 min ago to now, each district's series at its constant value."""
    now = time.time_ns()
    lines = []
    for name, value in DISTRICTS.items():
        for k in range(0, 121):
            ts = now - (120 - k) * 20_000_000_000
            lines.append(f"light,district={escape_tag(name)} power={value} {ts}")
    status, resp, _ = d.request("POST", "/api/v1/write", "\n".join(lines).encode(), bearer("writer"))
    check(status == 204, f"write answered {status} {resp!r}")
    return now


def rows_of(body):
    return json.loads(body)["rows"]


def start(name, extra=None):
    dsn = fresh_db(name)
    cfg = {"database": {"dsn": dsn}, "auth": auth_config(), "indicators": INDICATORS,
           "ingest": {"batch_max_delay": "50ms"}}
    cfg.update(extra or {})
    return Iocd(cfg).start(), dsn


def test_numbers_match_samples():
    d, dsn = start("iocd_it_reports_numbers")
    try:
        now = write_samples(d)
        # the engine upserts its minutes every 5 s; wait until every sample is counted
        # whole hours around the samples: hourly rollups are selected by their start
        frm = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now / 1e9 - 2 * 3600))
        to = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now / 1e9 + 2 * 3600))
        total = len(DISTRICTS) * 121

        def counted():
            s, b, _ = export(d, indicators="light.power", **{"from": frm, "to": to}, step="1h",
                             format="json")
            return s == 200 and sum(r["samples"] for r in rows_of(b)) == total and \
                all(r["value"] is not None for r in rows_of(b)[-1:])
        wait_for(counted, 30, "the engine's rollups to count every sample")
        time.sleep(6)  # one more flush: the current minute's values
        for step, field in (("1m", "minute"), ("1h", "hour"), ("1d", "day")):
            status, body, headers = export(d, indicators="light.power", step=step, format="json",
                                           group="*", **{"from": frm, "to": to})
            check(status == 200, f"{step}: {status} {body[:300]!r}")
            check(headers.get("transfer-encoding") == "chunked", f"not streamed: {headers}")
            # minutes after the write hold the engine's values but no samples: SQL has no row
            got = {(r["ts"], r["group"]): r["samples"] for r in rows_of(body) if r["samples"]}
            sql = ("SELECT to_char(date_trunc('%s', ts, '%s') AT TIME ZONE '%s', "
                   "'YYYY-MM-DD\"T\"HH24:MI:SS') || '+07:00', g, count(*) FROM samples_view, "
                   "LATERAL (VALUES (tags->>'district'), ('')) v(g) WHERE metric = 'light.power' "
                   "GROUP BY 1, 2" % (field, TZ, TZ))
            want = {(r[0], r[1]): int(r[2]) for r in psql(dsn, sql)}
            diff = sorted(set(got.items()) ^ set(want.items()))
            check(got == want, f"{step}: samples per bucket differ from samples_view: {diff[:6]}")
        # values: every series is constant, so each group's value is its series' latest value
        # and the total is their sum, at every evaluated minute
        latest = {r[0]: float(r[1]) for r in psql(dsn,
                  "SELECT tags->>'district', (array_agg(value ORDER BY ts DESC))[1] FROM samples_view"
                  " WHERE metric = 'light.power' GROUP BY 1")}
        latest[""] = sum(latest.values())
        status, body, _ = export(d, indicators="light.power", step="1h", format="json", group="*",
                                 **{"from": frm, "to": to})
        valued = [r for r in rows_of(body) if r["value"] is not None]
        check({r["group"] for r in valued} == set(latest), f"groups with values: {valued}")
        for r in valued:
            want = latest[r["group"]]
            check(abs(r["value"] - want) < 1e-9 and r["min"] == want and r["max"] == want,
                  f"group {r['group']!r}: {r} != {want}")
            check(r["attainment_pct"] == (100 if want >= 10 else 0), f"attainment {r}")
        # group filter: one group only
        status, body, _ = export(d, indicators="light.power", step="1d", format="json",
                                 group="Tân An", **{"from": frm, "to": to})
        check({r["group"] for r in rows_of(body)} == {"Tân An"}, f"filter: {body[:300]!r}")
        # CSV round trip with Excel options: BOM, ';', hostile cells neutralised, -5 intact
        status, body, headers = export(d, indicators="light.power", step="1d", format="csv",
                                       group="*", bom="1", sep=";", **{"from": frm, "to": to})
        check(status == 200 and headers["content-type"].startswith("text/csv"), f"{status} {headers}")
        check(body.startswith(b"\xef\xbb\xbf"), "no BOM")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
        groups = {r["group"] for r in rows}
        want_groups = {"", "Tân An", "'=HYPERLINK(1)", "'@cmd", 'Bến Lức, "Q"', "-5"}
        check(groups == want_groups, f"CSV groups {groups} != {want_groups}")
        check({r["name"] for r in rows} == {"Công suất chiếu sáng"}, f"names {rows[0]}")
        minus = [r for r in rows if r["group"] == "-5"]
        check(minus and all(float(r["value"]) == -5 for r in minus) and
              all(r["value"].startswith("-5") for r in minus), f"negative value corrupted: {minus}")
        check(sum(int(r["samples"]) for r in rows if r["group"] == "") == total, "CSV samples")
    finally:
        d.stop()
        d.cleanup()


def seed_history(dsn):
    """hist.rate hourly rollups, constant per LOCAL month: 2025-02 -> 4, 2026-01 -> 1, 2026-02 -> 2;
    group 'Tân An' and the total; ticks 60 per hour, one sample per hour."""
    psql(dsn, f"""
        INSERT INTO rollup_1h (indicator, grp, ts, value, count, min, max, ticks)
        SELECT 'hist.rate', g, t, v, 1, v, v, 60 FROM (
          SELECT g, t, CASE date_trunc('month', t, '{TZ}')
                   WHEN '2025-02-01 00:00+07' THEN 4 WHEN '2026-01-01 00:00+07' THEN 1
                   WHEN '2026-02-01 00:00+07' THEN 2 END AS v
          FROM unnest(ARRAY['', 'Tân An']) g,
               generate_series(timestamptz '2025-02-01 00:00+07', timestamptz '2026-02-28 23:00+07',
                               '1 hour') t) x
        WHERE v IS NOT NULL""")


def test_calendar_compare_xlsx_and_errors():
    d, dsn = start("iocd_it_reports_calendar")
    try:
        seed_history(dsn)
        feb = {"from": "2026-02-01", "to": "2026-03-01"}
        status, body, _ = export(d, indicators="hist.rate", step="1mo", format="json", compare="month", **feb)
        rows = rows_of(body)
        check(status == 200 and len(rows) == 1, f"1mo: {status} {body[:400]!r}")
        r = rows[0]
        check(r["ts"] == "2026-02-01T00:00:00+07:00" and r["value"] == 2 and r["samples"] == 28 * 24,
              f"local month bucket: {r}")
        check(r["previous"] == 1 and r["delta"] == 1 and r["delta_pct"] == 100, f"vs month: {r}")
        status, body, _ = export(d, indicators="hist.rate", step="1mo", format="json", compare="year", **feb)
        r = rows_of(body)[0]
        check(r["previous"] == 4 and r["delta"] == -2 and r["delta_pct"] == -50, f"vs year: {r}")
        # in UTC, January ends 7 hours later: its bucket takes the first 7 hours of local February
        status, body, _ = export(d, indicators="hist.rate", step="1mo", format="json", tz="UTC",
                                 **{"from": "2026-01-01T00:00Z", "to": "2026-03-01T00:00Z"})
        jan, feb_utc = rows_of(body)
        check(jan["ts"] == "2026-01-01T00:00:00+00:00" and jan["samples"] == 744 and
              abs(jan["value"] - (737 * 1 + 7 * 2) / 744) < 1e-12, f"UTC January: {jan}")
        check(feb_utc["samples"] == 28 * 24 - 7 and feb_utc["value"] == 2, f"UTC February: {feb_utc}")
        # days and weeks start at local midnight (weeks on Monday)
        status, body, _ = export(d, indicators="hist.rate", step="1d", format="json", **feb)
        days = rows_of(body)
        check(len(days) == 28 and all(x["samples"] == 24 and x["value"] == 2 for x in days) and
              days[0]["ts"] == "2026-02-01T00:00:00+07:00", f"days: {days[:2]}")
        status, body, _ = export(d, indicators="hist.rate", step="1w", format="json", **feb)
        weeks = rows_of(body)
        check([w["ts"][:10] for w in weeks] == ["2026-01-26", "2026-02-02", "2026-02-09", "2026-02-16",
                                                 "2026-02-23"], f"weeks: {[w['ts'] for w in weeks]}")
        check(weeks[0]["samples"] == 24 and weeks[1]["samples"] == 168, f"week rows: {weeks[:2]}")
        # XLSX: one sheet per indicator, header with name and unit, numbers as numbers
        status, body, headers = export(d, indicators="hist.rate,light.power", step="1d",
                                       format="xlsx", compare="month", group="*", **feb)
        check(status == 200 and "spreadsheetml" in headers["content-type"], f"xlsx {status} {headers}")
        z = zipfile.ZipFile(io.BytesIO(body))
        ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
        book = ET.fromstring(z.read("xl/workbook.xml"))
        check([s.get("name") for s in book.findall(".//m:sheet", ns)] == ["hist.rate", "light.power"],
              f"sheets {z.namelist()}")
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
        cells = {c.get("r"): c for c in sheet.iter("{%s}c" % ns["m"])}

        def text(ref):
            c = cells[ref]
            return "".join(t.text or "" for t in c.iter("{%s}t" % ns["m"])) if c.get("t") == "inlineStr" \
                else c.find("m:v", ns).text
        check(text("A1") == "time" and text("B1") == "group" and
              text("C1") == "Tỉ lệ hồ sơ trực tuyến (%)" and text("H1") == "previous",
              f"header {[text(k) for k in ('A1', 'B1', 'C1', 'H1')]}")
        serial = (datetime.date(2026, 2, 1) - datetime.date(1899, 12, 30)).days
        check(float(text("A2")) == serial, f"first date {text('A2')} != {serial} (2026-02-01)")
        check(float(text("C2")) == 2 and float(text("F2")) == 24 and float(text("H2")) == 1 and
              float(text("J2")) == 100, f"row 2 {[text(k) for k in ('C2', 'F2', 'H2', 'J2')]}")
        check(text("B30") == "Tân An", "second group after the 28 days of the total")
        # errors name the parameter; roles
        for params, param in ((dict(feb, step="2d"), "step"), (dict(feb, format="pdf"), "format"),
                              ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
                              ({"from": "2026-03-01", "to": "2026-02-01"}, "from"),
                              (dict(feb, indicators="nope"), "indicators"),
                              (dict(feb, tz="Mars/Olympus"), "tz"), (dict(feb, compare="week"), "compare"),
                              ({"to": "2026-03-01"}, "from")):
            status, body, _ = export(d, **params)
            check(status == 400 and json.loads(body).get("param") == param,
                  f"{params}: {status} {body!r} (want 400 naming {param})")
        audit = wait_for(lambda: psql(dsn, "SELECT actor, detail->>'indicators', detail->>'step'"
                                           " FROM audit_log WHERE action = 'export' AND"
                                           " detail->>'format' = 'xlsx'"),
                         10, "the export in the audit log")
        check(audit == [["token:analyst", "hist.rate,light.power", "1d"]], f"audit {audit}")
        status, _, _ = export(d, role="viewer", **feb)
        check(status == 403, f"viewer may not export: {status}")
        status, _, _ = d.request("GET", "/api/v1/export?from=2026-02-01&to=2026-03-01")
        check(status == 401, f"no credentials: {status}")
        # iocctl export: the same options, to a file
        out = os.path.join(d.root, "feb.csv")
        p = subprocess.run([IOCCTL_BIN, "--url", d.url, "--token", TOKENS["analyst"], "export",
                            "--indicators", "hist.rate", "--from", "2026-02-01", "--to", "2026-03-01",
                            "--step", "1mo", "--compare", "year", "--output", out],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"iocctl export: {p.returncode} {p.stderr}")
        with open(out, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 1 and float(rows[0]["previous"]) == 4 and float(rows[0]["delta_pct"]) == -50,
              f"iocctl rows {rows}")
        p = subprocess.run([IOCCTL_BIN, "--url", d.url, "--token", TOKENS["analyst"], "export",
                            "--from", "2026-02-01", "--to", "2026-03-01", "--step", "2d"],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode != 0 and "step" in p.stderr, f"iocctl bad step: {p.returncode} {p.stderr}")
    finally:
        d.stop()
        d.cleanup()


def raw_get(port, path, token):
    """Sends a GET on a socket with a small receive buffer (the caller reads at its own pace)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    return s


def test_large_export_does_not_stall_live_requests():
    d, dsn = start("iocd_it_reports_large")
    try:
        psql(dsn, "INSERT INTO rollup_1m (indicator, grp, ts, value, count, min, max, ticks) "
                  "SELECT 'hist.rate', 'g' || (i % 20), timestamptz '2026-01-01 00:00+07' + "
                  "(i / 20) * interval '1 minute', i % 100, 1, 0, 100, 240 "
                  "FROM generate_series(0, 399999) i")
        path = "/api/v1/export?" + urllib.parse.urlencode(
            {"indicators": "hist.rate", "from": "2026-01-01", "to": "2026-02-01", "step": "1m", "group": "*"})
        # three clients that stall after the first bytes, and one that reads everything
        stalled = [raw_get(d.port, path, TOKENS["analyst"]) for _ in range(3)]
        for s in stalled:
            s.recv(4096)
        started = time.time()
        worst = 0.0
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        conn.request("GET", path, headers=bearer("analyst"))
        resp = conn.getresponse()
        check(resp.status == 200, f"export {resp.status}")
        lines = 0
        last_probe = 0.0
        while True:
            chunk = resp.read(1 << 16)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            if time.time() - last_probe > 0.2:
                t0 = time.time()
                status, _, _ = d.request("GET", "/healthz", timeout=5)
                worst = max(worst, time.time() - t0)
                last_probe = time.time()
                check(status == 200, f"/healthz {status} during the export")
        elapsed = time.time() - started
        check(lines == 400000 + 1, f"export has {lines} lines, want 400000 rows and a header")
        check(worst < 0.5, f"/healthz took {worst:.3f}s during the export")
        print(f"   export of 400k rows: {elapsed:.1f}s (~{lines / elapsed:.0f} rows/s), "
              f"worst /healthz {worst * 1000:.0f} ms")
        conn.close()
        # exports are bounded: with a fourth stalled one, a fifth is refused
        stalled.append(raw_get(d.port, path, TOKENS["analyst"]))
        stalled[-1].recv(4096)
        status, body, _ = export(d, indicators="hist.rate", step="1d",
                                 **{"from": "2026-01-01", "to": "2026-01-02"})
        check(status == 429, f"fifth export: {status} {body!r}")
        # clients that leave free their exports (at the latest at the write timeout)
        for s in stalled:
            s.close()
        wait_for(lambda: export(d, indicators="hist.rate", step="1d", **{"from": "2026-01-01",
                                                                      "to": "2026-01-02"})[0] == 200,
                 45, "a new export after the stalled clients left")
    finally:
        d.stop()
        d.cleanup()


class Webhook(http.server.BaseHTTPRequestHandler):
    """Records each POST (headers and body)."""
    got = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_scheduled_report_missed_run():
    dsn = fresh_db("iocd_it_reports_sched")
    hook = http.server.HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    # the schedule's time was a few minutes ago (local): iocd starts after it, so the run
    # counts as missed and goes at start-up
    at = time.strftime("%H:%M", time.gmtime(time.time() + 7 * 3600 - 180))
    d = Iocd({"database": {"dsn": dsn}, "auth": auth_config(), "indicators": INDICATORS})
    report_dir = os.path.join(d.root, "out")
    os.makedirs(report_dir)
    d.write_config(dict(d.config, reports=[
        {"name": "daily-kpi", "schedule": f"daily {at}", "indicators": ["hist.rate"],
         "range": "24h", "step": "1h", "format": "csv", "directory": report_dir,
         "webhook": f"http://127.0.0.1:{hook.server_port}/reports"}]))
    try:
        d.start()
        files = wait_for(lambda: [f for f in os.listdir(report_dir) if f.endswith(".csv")], 30,
                         "the missed report to be written")
        check(len(files) == 1 and re.fullmatch(r"daily-kpi-\d{4}-\d\d-\d\dT\d{4}\.csv", files[0]),
              f"files {os.listdir(report_dir)}")
        check(not [f for f in os.listdir(report_dir) if f.startswith(".")], "temporary file left")
        with open(os.path.join(report_dir, files[0]), "rb") as f:
            content = f.read()
        check(content.startswith(b"time,indicator,name"), "CSV header")
        runs = wait_for(lambda: psql(dsn, "SELECT report, status, path FROM report_runs"), 10, "history")
        check(runs == [["daily-kpi", "ok", os.path.join(report_dir, files[0])]], f"history {runs}")
        check(len(Webhook.got) == 1, f"webhook POSTs: {len(Webhook.got)}")
        headers, body = Webhook.got[0]
        check(body == content and headers.get("X-Iocd-Report") == "daily-kpi" and
              headers.get("Content-Type", "").startswith("text/csv"), f"webhook got {headers}")
        # a restart does not write it again
        d.stop()
        d.start()
        time.sleep(2)
        check(len(os.listdir(report_dir)) == 1 and len(Webhook.got) == 1 and
              psql(dsn, "SELECT count(*) FROM report_runs") == [["1"]], "ran twice")
    finally:
        d.stop()
        d.cleanup()
        hook.shutdown()


def test_check_config_names_report_errors():
    d = Iocd({"reports": [{"name": "x", "schedule": "daily 25:00", "directory": "/tmp"}]})
    try:
        from harness import IOCD_BIN
        p = subprocess.run([IOCD_BIN, "--check-config", "--config", d.config_path],
                           capture_output=True, text=True)
        check(p.returncode == 1 and re.search(r"iocd\.json:\d+:\d+: reports\[0\]\.schedule: expected",
                                              p.stderr), f"check-config: {p.returncode} {p.stderr}")
        d.write_config(dict(d.config, reports=[{"name": "x", "schedule": "daily 07:00",
                                                "directory": "/tmp", "formt": "csv"}]))
        p = subprocess.run([IOCD_BIN, "--check-config", "--config", d.config_path],
                           capture_output=True, text=True)
        check(p.returncode == 1 and "reports[0].formt: unknown key" in p.stderr, f"{p.stderr}")
    finally:
        d.cleanup()


if __name__ == "__main__":
    run([test_check_config_names_report_errors, test_numbers_match_samples,
         test_calendar_compare_xlsx_and_errors, test_large_export_does_not_stall_live_requests,
         test_scheduled_report_missed_run])
