"""Indicators end to end: samples written through /api/v1/write show in /api/v1/indicators with
hand-computed values per group and status, history comes from the rollups through the series
API and the views, bad parameters are named, and a restart keeps the values."""
import json
import os
import subprocess
import time
import urllib.parse

from harness import IOCD_BIN, Iocd, check, psql, run, wait_for, writer_token_config

BASE_DSN = os.environ["IOCD_TEST_DSN"]

INDICATORS = [
    {"id": "lights.on", "name": {"vi": "Đèn đang sáng", "en": "Lights on"}, "unit": "đèn",
     "metric": "lighting.on", "agg": "sum", "window": "10m", "group_by": ["district"]},
    {"id": "speed", "name": {"vi": "Tốc độ"}, "unit": "km/h", "metric": "traffic.speed",
     "agg": "avg", "window": "10m", "group_by": ["district"],
     "target": {"op": ">=", "value": 30}, "thresholds": {"warn": 30, "crit": 20}},
    {"id": "online.share", "name": {"vi": "Tỉ lệ trực tuyến"}, "unit": "%", "window": "10m",
     "expr": "100 * sum(service.online) / (sum(service.online) + sum(service.offline))",
     "target": {"op": ">=", "value": 50}},
]


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def make(dsn):
    auth, token = writer_token_config()
    auth["anonymous_role"] = "viewer"
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "indicators": INDICATORS,
              "ingest": {"batch_max_delay": "50ms"}})
    return d, {"Authorization": f"Bearer {token}"}


def get_json(d, path):
    status, body, _ = d.request("GET", path)
    return status, json.loads(body) if body else None


def by_id(doc):
    return {i["id"]: i for i in doc["indicators"]}


def group(ind, name):
    for g in ind["groups"]:
        if g["group"] == name:
            return g
    raise AssertionError(f"no group {name!r} in {ind['groups']}")


def write_samples(d, auth, now_ns):
    # lights: two cabinets in Tân An (first 40 then 45: its latest counts), one in Bến Lức
    lines = [
        f"lighting,district=Tân\\ An,id=c1 on=40i {now_ns - 20_000_000_000}",
        f"lighting,district=Tân\\ An,id=c1 on=45i {now_ns - 10_000_000_000}",
        f"lighting,district=Tân\\ An,id=c2 on=50i {now_ns - 10_000_000_000}",
        f"lighting,district=Bến\\ Lức,id=c3 on=7i {now_ns - 10_000_000_000}",
        f"traffic,district=Tân\\ An,id=s1 speed=25 {now_ns - 5_000_000_000}",
        f"traffic,district=Tân\\ An,id=s2 speed=35 {now_ns - 5_000_000_000}",
        f"traffic,district=Bến\\ Lức,id=s3 speed=15 {now_ns - 5_000_000_000}",
        f"service,district=Tân\\ An online=30,offline=10 {now_ns - 5_000_000_000}",
        f"service,district=Bến\\ Lức online=10,offline=30 {now_ns - 5_000_000_000}",
    ]
    status, resp, _ = d.request("POST", "/api/v1/write", "\n".join(lines).encode(), auth)
    check(status == 204, f"write answered {status} {resp!r}")


def check_values(doc):
    inds = by_id(doc)
    lights = inds["lights.on"]
    check(lights["value"] == 102, f"lights total {lights['value']} != 45+50+7")
    check(group(lights, "Tân An")["value"] == 95, f"Tân An lights {group(lights, 'Tân An')}")
    check(group(lights, "Bến Lức")["value"] == 7, f"Bến Lức lights {group(lights, 'Bến Lức')}")
    check(lights["name"] == {"vi": "Đèn đang sáng", "en": "Lights on"}, f"name {lights['name']}")
    speed = inds["speed"]
    check(abs(speed["value"] - 25) < 1e-9 and speed["status"] == "warn", f"speed {speed}")
    check(group(speed, "Tân An")["value"] == 30 and group(speed, "Tân An")["status"] == "ok",
          f"Tân An speed {group(speed, 'Tân An')}")
    check(group(speed, "Bến Lức")["status"] == "crit", f"Bến Lức speed {group(speed, 'Bến Lức')}")
    share = inds["online.share"]
    check(abs(share["value"] - 50) < 1e-9 and share["status"] == "ok", f"share {share}")
    check(share["expr"].startswith("100 * sum(service.online)"), f"definition {share}")


def test_values_series_and_restart():
    dsn = fresh_db("it_indicators")
    d, auth = make(dsn)
    try:
        d.start()
        wait_for(lambda: get_json(d, "/api/v1/indicators")[1]["warming_up"] is False, 30,
                 "engine warm-up")
        status, doc = get_json(d, "/api/v1/indicators")
        check(status == 200 and by_id(doc)["lights.on"]["status"] == "no-data",
              f"before any sample: {status} {doc}")
        now_ns = time.time_ns()
        write_samples(d, auth, now_ns)
        # values are recomputed at the next tick (250 ms)
        wait_for(lambda: by_id(get_json(d, "/api/v1/indicators")[1])["lights.on"]["value"] == 102,
                 5, "lights.on = 102")
        status, doc = get_json(d, "/api/v1/indicators")
        check_values(doc)

        # rollups reach the views within the 5 s flush, and the series API reads them
        wait_for(lambda: psql(dsn, "SELECT value FROM rollups_1m WHERE indicator = 'lights.on' "
                                   "AND grp = 'Tân An' ORDER BY ts DESC LIMIT 1") == [["95"]],
                 15, "rollups_1m for lights.on / Tân An")
        frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ns / 1e9 - 3600))
        q = urllib.parse.urlencode({"from": frm, "step": "1m", "group": "Tân An"})
        status, s = get_json(d, f"/api/v1/indicators/lights.on/series?{q}")
        check(status == 200 and s["group"] == "Tân An" and s["points"], f"series: {status} {s}")
        check(s["points"][-1]["value"] == 95 and s["points"][-1]["max"] == 95, f"points {s}")
        status, s = get_json(d, "/api/v1/indicators/lights.on/series?step=1h")
        check(status == 200 and s["points"] and s["points"][-1]["count"] >= 4, f"1h series {s}")
        for path, param, code in [
            ("/api/v1/indicators/nope/series", None, 404),
            ("/api/v1/indicators/lights.on/series?step=30s", "step", 400),
            ("/api/v1/indicators/lights.on/series?from=yesterday", "from", 400),
            ("/api/v1/indicators/lights.on/series?to=2025-02-30T00:00:00Z", "to", 400),
            ("/api/v1/indicators/lights.on/series?from=2020-01-01&step=1m", "step", 400),
            ("/api/v1/indicators/lights.on/other", None, 404),
        ]:
            status, body = get_json(d, path)
            check(status == code and body.get("param") == param,
                  f"{path}: {status} {body}, want {code} naming {param}")

        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
        # a restart shows the same values (warmed from raw samples), and keeps the history
        d.start()
        wait_for(lambda: get_json(d, "/api/v1/indicators")[1]["warming_up"] is False, 30,
                 "engine warm-up after restart")
        wait_for(lambda: by_id(get_json(d, "/api/v1/indicators")[1])["lights.on"]["value"] == 102,
                 5, "lights.on = 102 after restart")
        check_values(get_json(d, "/api/v1/indicators")[1])
        status, s = get_json(d, f"/api/v1/indicators/lights.on/series?{q}")
        check(status == 200 and s["points"][-1]["value"] == 95, f"series after restart {s}")
    finally:
        d.cleanup()


def test_auth_and_check_config():
    dsn = fresh_db("it_indicators_auth")
    auth, token = writer_token_config()
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "indicators": INDICATORS})
    try:
        d.start()
        status, _, _ = d.request("GET", "/api/v1/indicators")
        check(status == 401, f"no credentials: {status}")
        status, _, _ = d.request("GET", "/api/v1/indicators",
                                 headers={"Authorization": f"Bearer {token}"})
        check(status == 403, f"writer token: {status}")
        check(d.stop() == 0, "iocd did not exit 0")
        bad = dict(d.config)
        bad["indicators"] = INDICATORS + [{"id": "x", "name": {"vi": "x"},
                                           "expr": "sum(a) / (sum(b)"}]
        d.write_config(bad)
        out = subprocess.run([IOCD_BIN, "--check-config", "--config", d.config_path],
                             capture_output=True, text=True)
        check(out.returncode == 1 and "indicators[3].expr: column 17: expected ')'" in out.stderr,
              f"check-config: rc={out.returncode} {out.stderr!r}")
    finally:
        d.cleanup()


if __name__ == "__main__":
    run([test_values_series_and_restart, test_auth_and_check_config])
