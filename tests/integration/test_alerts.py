"""Alerts end to end: a rule created through the API, samples written through /api/v1/write
crossing it, a WebSocket client and a real local webhook receiver each get exactly one firing
notification, ack shows with its comment, the hysteresis band holds, recovery resolves, a short
breach below `for` never fires, validation names the field, rules survive a restart."""
import hashlib
import http.server
import json
import os
import signal
import tempfile
import threading
import time
import urllib.parse

from harness import Iocd, Pg, check, psql, run, wait_for, writer_token_config
from wsclient import WsClient

BASE_DSN = os.environ["IOCD_TEST_DSN"]

INDICATORS = [
    {"id": "feedback.overdue", "name": {"vi": "Phản ánh quá hạn", "en": "Overdue feedback"},
     "unit": "hồ sơ", "metric": "feedback.overdue", "agg": "avg", "window": "10m",
     "group_by": ["district"]},
]
CONFIG_RULE = {"id": "cfg-overdue", "name": "Quá hạn (cấu hình)", "indicator": "feedback.overdue",
               "condition": {"op": ">", "value": 1000}, "severity": "warning"}


class Hooks(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: records every POSTed JSON body."""
    received = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hooks.received.append(json.loads(self.rfile.read(n)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Flaky(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that answers 500 to the first POST and 200 after."""
    received = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Flaky.received.append(json.loads(self.rfile.read(n)))
        self.send_response(500 if len(Flaky.received) == 1 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Slow(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that answers after 3 s (past the rule's timeout)."""

    def do_POST(self):
        time.sleep(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def token_entry(name, role):
    token = f"test-{name}-" + os.urandom(8).hex()
    return {"name": name, "role": role, "sha256": hashlib.sha256(token.encode()).hexdigest()}, token


S = {}


def setup():
    auth, wtoken = writer_token_config()
    op, optoken = token_entry("duty-op", "operator")
    auth["tokens"].append(op)
    auth["anonymous_role"] = "viewer"
    S["writer"] = {"Authorization": f"Bearer {wtoken}"}
    S["op"] = {"Authorization": f"Bearer {optoken}", "Content-Type": "application/json"}
    S["dsn"] = fresh_db("it_alerts")
    S["d"] = Iocd({"database": {"dsn": S["dsn"]}, "auth": auth, "indicators": INDICATORS,
                   "alerts": [CONFIG_RULE], "ingest": {"batch_max_delay": "50ms"}}).start()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    S["hook_url"] = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    ws = WsClient("127.0.0.1", S["d"].port, headers={"Authorization": f"Bearer {optoken}"})
    ws.send_text(json.dumps({"op": "subscribe", "topics": ["alerts"]}))
    snap = json.loads(ws.recv())
    check(snap["type"] == "snapshot" and snap["alerts"] == [], f"first frame {snap}")
    S["ws"] = ws
    S["ws_events"] = []


def call(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    hdrs = headers if headers is not None else S["op"]
    status, resp, _ = S["d"].request(method, path, data, hdrs)
    return status, json.loads(resp) if resp else None


def write(value, district="Tân An"):
    line = f"feedback,district={district.replace(' ', chr(92) + ' ')},id=hotline overdue={value}"
    status, resp, _ = S["d"].request("POST", "/api/v1/write", line.encode(), S["writer"])
    check(status == 204, f"write answered {status} {resp!r}")


def drain_ws(seconds):
    """Collects alert frames from the WebSocket for a while."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            msg = json.loads(S["ws"].recv(timeout=max(0.05, deadline - time.time())))
        except TimeoutError:
            break
        if msg["type"] == "alert":
            S["ws_events"].append(msg["alert"])


def rule_body(**over):
    body = {"name": "Phản ánh quá hạn ở Tân An", "indicator": "feedback.overdue",
            "group": "Tân An", "condition": {"op": ">", "value": 10, "clear": 5}, "for": "2s",
            "severity": "critical",
            "message": {"vi": "{indicator} tại {group}: {value} {unit}",
                        "en": "{indicator} in {group}: {value}"},
            "notify": [{"webhook": S["hook_url"], "timeout": "2s", "retries": 2}], "repeat": "0s"}
    body.update(over)
    return body


def test_validation():
    bad = [
        (rule_body(condition=None), 400, "condition"),
        ({k: v for k, v in rule_body().items() if k != "condition"}, 400, "condition"),
        (rule_body(indicator="no.such"), 422, "indicator"),
        (rule_body(condition={"op": "~", "value": 1}), 422, "condition.op"),
        (rule_body(condition={"op": ">", "value": "ten"}), 400, "condition.value"),
        (rule_body(condition={"op": ">", "value": 10, "clear": 12}), 422, "condition.clear"),
        (rule_body(**{"for": "soon"}), 422, "for"),
        (rule_body(severity="urgent"), 422, "severity"),
        (rule_body(notify=[{"webhook": "ftp://x"}]), 422, "notify[0].webhook"),
        (rule_body(message={"vi": "{nope}"}), 422, "message.vi"),
        (rule_body(colour="red"), 422, "colour"),
    ]
    for body, want, field in bad:
        status, resp = call("POST", "/api/v1/alert-rules", body)
        check(status == want and resp.get("field") == field,
              f"{body} answered {status} {resp}, want {want} naming {field}")
    status, _ = call("POST", "/api/v1/alert-rules", rule_body(), headers={})
    check(status == 403, f"anonymous viewer created a rule: {status}")
    status, _ = call("POST", "/api/v1/alert-rules", rule_body(), headers=S["writer"])
    check(status == 403, f"writer created a rule: {status}")
    status, rules = call("GET", "/api/v1/alert-rules", headers={})
    check(status == 200 and [r["id"] for r in rules] == ["cfg-overdue"], f"rules {rules}")
    check(rules[0]["source"] == "config" and rules[0]["readonly"] is True, f"{rules[0]}")
    status, resp = call("PUT", "/api/v1/alert-rules/cfg-overdue", CONFIG_RULE)
    check(status == 409, f"config rule edited: {status} {resp}")
    status, resp = call("DELETE", "/api/v1/alert-rules/cfg-overdue")
    check(status == 409, f"config rule deleted: {status} {resp}")


def test_create_rule():
    created = wait_for(lambda: (lambda r: r if r[0] != 503 else None)(
        call("POST", "/api/v1/alert-rules", rule_body())), 20, "rules loaded from the database")
    status, rule = created
    check(status == 201, f"create answered {status} {rule}")
    check(rule["id"] and rule["source"] == "api" and rule["readonly"] is False, f"{rule}")
    check(rule["condition"] == {"op": ">", "value": 10, "clear": 5}, f"{rule}")
    S["rule"] = rule["id"]
    status, got = call("GET", f"/api/v1/alert-rules/{rule['id']}", headers={})
    check(status == 200 and got["name"] == "Phản ánh quá hạn ở Tân An", f"{status} {got}")
    status, resp = call("POST", "/api/v1/alert-rules", dict(rule_body(), id=rule["id"]))
    check(status == 409 and resp["field"] == "id", f"duplicate id: {status} {resp}")


def test_short_breach_never_fires():
    write(20)
    time.sleep(0.8)
    write(1)
    drain_ws(4)
    mine = [e for e in S["ws_events"] if e["rule"] == S["rule"]]
    check([e["event"] for e in mine] == ["pending", "cancelled"], f"ws events {mine}")
    check(not Hooks.received, f"webhook got {Hooks.received}")
    status, alerts = call("GET", f"/api/v1/alerts?rule={S['rule']}&state=cancelled", headers={})
    check(status == 200 and len(alerts) == 1 and alerts[0]["fired_at"] is None, f"{alerts}")
    status, firing = call("GET", "/api/v1/alerts?state=firing", headers={})
    check(status == 200 and firing == [], f"firing {firing}")
    S["ws_events"].clear()


def test_fires_once():
    write(20)
    wait_for(lambda: [h for h in Hooks.received if h["event"] == "firing"], 10, "webhook firing")
    drain_ws(2.5)
    firing_ws = [e for e in S["ws_events"] if e["event"] == "firing"]
    firing_hooks = [h for h in Hooks.received if h["event"] == "firing"]
    check(len(firing_ws) == 1, f"ws firing events {S['ws_events']}")
    check(len(firing_hooks) == 1, f"webhook firing notifications {Hooks.received}")
    a = firing_hooks[0]
    check(a["id"] == firing_ws[0]["id"] and a["state"] == "firing" and a["value"] == 20, f"{a}")
    check(a["severity"] == "critical" and a["group"] == "Tân An", f"{a}")
    check(a["message"] == {"vi": "Phản ánh quá hạn tại Tân An: 20 hồ sơ",
                           "en": "Overdue feedback in Tân An: 20"}, f"{a['message']}")
    check(isinstance(a["id"], int), f"alert id {a['id']!r} is not a plain integer")
    S["alert"] = a["id"]
    status, firing = call("GET", "/api/v1/alerts?state=firing", headers={})
    check(status == 200 and [x["id"] for x in firing] == [a["id"]], f"firing {firing}")
    ws2 = WsClient("127.0.0.1", S["d"].port, headers={"Authorization": S["op"]["Authorization"]})
    ws2.send_text(json.dumps({"op": "subscribe", "topics": ["alerts"]}))
    snap = json.loads(ws2.recv())
    ws2.close()
    check([x["id"] for x in snap["alerts"]] == [a["id"]], f"snapshot {snap}")


def test_ack():
    path = f"/api/v1/alerts/{S['alert']}/ack"
    status, _ = call("POST", path, {"comment": "x"}, headers={})
    check(status == 403, f"viewer acked: {status}")
    status, resp = call("POST", path, {"comment": 5})
    check(status == 400 and resp["field"] == "comment", f"{status} {resp}")
    status, a = call("POST", path, {"comment": "Đã giao phường xử lý"})
    check(status == 200 and a["acked"]["by"] == "token:duty-op", f"ack answered {status} {a}")
    check(a["acked"]["comment"] == "Đã giao phường xử lý" and a["acked"]["at"], f"{a}")
    status, a = call("GET", f"/api/v1/alerts/{S['alert']}", headers={})
    check(status == 200 and a["acked"]["comment"] == "Đã giao phường xử lý", f"{a}")
    check([e["event"] for e in a["events"]] == ["pending", "firing", "ack"], f"{a['events']}")
    check(a["events"][2]["who"] == "token:duty-op", f"{a['events']}")
    check(any(d["ok"] and d["event"] == "firing" for d in a["deliveries"]), f"{a['deliveries']}")
    status, acked = call("GET", "/api/v1/alerts?state=acked", headers={})
    check([x["id"] for x in acked] == [S["alert"]], f"acked {acked}")


def test_hysteresis_then_resolve():
    write(7)  # below the threshold, above the clear threshold: still firing
    drain_ws(2.5)
    status, a = call("GET", f"/api/v1/alerts/{S['alert']}", headers={})
    check(a["state"] == "firing" and a["value"] == 7, f"in the band: {a['state']} {a['value']}")
    write(3)
    wait_for(lambda: [h for h in Hooks.received if h["event"] == "resolved"], 10,
             "webhook resolved")
    drain_ws(1.5)
    check([e["event"] for e in S["ws_events"]] == ["pending", "firing", "ack", "resolved"],
          f"ws events {[e['event'] for e in S['ws_events']]}")
    check([h["event"] for h in Hooks.received] == ["firing", "resolved"],
          f"webhook {[h['event'] for h in Hooks.received]}")
    status, a = call("GET", f"/api/v1/alerts/{S['alert']}", headers={})
    check(a["state"] == "resolved" and a["resolved_at"] and a["value"] == 3, f"{a}")
    check(a["acked"]["comment"] == "Đã giao phường xử lý", f"ack lost on resolve: {a}")
    status, ev = call("GET", f"/api/v1/alert-events?alert={S['alert']}&event=resolved", headers={})
    check(status == 200 and len(ev) == 1 and ev[0]["value"] == 3, f"events {ev}")
    status, rs = call("GET", "/api/v1/alerts?state=resolved&since=2020-01-01T00:00:00Z",
                      headers={})
    check([x["id"] for x in rs] == [S["alert"]], f"resolved {rs}")
    status, resp = call("GET", "/api/v1/alerts?since=yesterday", headers={})
    check(status == 400 and resp["field"] == "since", f"{status} {resp}")


def test_silence():
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    status, a = call("POST", f"/api/v1/alerts/{S['alert']}/silence", {"until": until})
    check(status == 200 and a["silenced_until"].startswith(until[:19]), f"{status} {a}")
    n = len(Hooks.received)
    write(30)
    drain_ws(4)
    status, firing = call("GET", "/api/v1/alerts?state=firing", headers={})
    check(len(firing) == 1 and firing[0]["id"] != S["alert"], f"firing {firing}")
    check(len(Hooks.received) == n, f"silenced alert notified: {Hooks.received[n:]}")
    status, a = call("POST", f"/api/v1/alerts/{firing[0]['id']}/unsilence", {})
    check(status == 200 and a["silenced_until"] is None, f"{status} {a}")
    wait_for(lambda: len(Hooks.received) > n, 5, "the held notification after unsilence")
    check(Hooks.received[n]["event"] == "firing" and Hooks.received[n]["id"] == firing[0]["id"],
          f"{Hooks.received[n:]}")


def test_restart_keeps_rules_and_alert():
    d = S["d"]
    S["ws"].close()
    check(d.stop() == 0, "iocd did not exit 0")
    d.start()
    status, rules = call("GET", "/api/v1/alert-rules", headers={})
    check(sorted(r["id"] for r in rules) == sorted(["cfg-overdue", S["rule"]]), f"{rules}")
    status, firing = call("GET", "/api/v1/alerts?state=firing", headers={})
    check(len(firing) == 1, f"firing after restart {firing}")
    n = len(Hooks.received)
    time.sleep(2.5)
    check(len(Hooks.received) == n, f"re-notified after restart: {Hooks.received[n:]}")
    status, rule = call("PUT", f"/api/v1/alert-rules/{S['rule']}", rule_body(enabled=False))
    check(status == 200 and rule["enabled"] is False, f"disable: {status} {rule}")
    status, after = call("GET", "/api/v1/alerts?state=firing", headers={})
    check(after == [], f"disabled rule still firing: {after}")
    # Its webhook heard "firing" before the restart, so it hears "resolved" now.
    wait_for(lambda: [h for h in Hooks.received[n:] if h["event"] == "resolved"
                      and h["id"] == firing[0]["id"]], 5, "resolved after disabling the rule")
    status, _ = call("DELETE", f"/api/v1/alert-rules/{S['rule']}")
    check(status == 204, f"delete answered {status}")
    status, _ = call("GET", f"/api/v1/alert-rules/{S['rule']}", headers={})
    check(status == 404, f"deleted rule answered {status}")


def test_preview():
    status, p = call("POST", "/api/v1/alert-rules/preview", rule_body(**{"for": "0s"}))
    check(status == 200 and "fired" in p and p["groups"][0]["group"] == "Tân An", f"{status} {p}")
    # The samples above crossed 10 in at least one minute; a threshold of 1000 never fired.
    rows = psql(S["dsn"], "SELECT count(*) FROM rollups_1m WHERE indicator = 'feedback.overdue'"
                          " AND grp = 'Tân An' AND max > 10")
    check(int(rows[0][0]) >= 1 and p["fired"] >= 1 and p["groups"][0]["firing_minutes"] >= 1,
          f"preview {p} rows {rows}")
    status, p = call("POST", "/api/v1/alert-rules/preview",
                     rule_body(condition={"op": ">", "value": 1000}, **{"for": "0s"}))
    check(status == 200 and p["fired"] == 0 and p["groups"][0]["firing_minutes"] == 0, f"{p}")
    status, resp = call("POST", "/api/v1/alert-rules/preview", rule_body(indicator="x"))
    check(status == 422 and resp["field"] == "indicator", f"{status} {resp}")


def test_webhook_retries_and_delivery_log():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    flaky = f"http://127.0.0.1:{srv.server_address[1]}/flaky"
    dead = "http://127.0.0.1:1/closed"  # nothing listens: connection refused
    slow_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=slow_srv.serve_forever, daemon=True).start()
    slow = f"http://127.0.0.1:{slow_srv.server_address[1]}/slow"
    status, rule = call("POST", "/api/v1/alert-rules", rule_body(
        name="Bến Lức", group="Bến Lức", **{"for": "0s"},
        notify=[{"webhook": flaky, "retries": 2},
                {"webhook": dead, "retries": 1, "timeout": "1s"},
                {"webhook": slow, "retries": 0, "timeout": "500ms"}]))
    check(status == 201, f"{status} {rule}")
    write(50, "Bến Lức")
    wait_for(lambda: len(Flaky.received) == 2, 10, "the retried webhook")
    check([h["event"] for h in Flaky.received] == ["firing", "firing"], f"{Flaky.received}")
    check(Flaky.received[0]["id"] == Flaky.received[1]["id"], "a retry is the same alert")

    def deliveries():
        status, a = call("GET", f"/api/v1/alerts/{Flaky.received[0]['id']}", headers={})
        return a["deliveries"] if len(a["deliveries"]) == 5 else None
    ds = wait_for(deliveries, 10, "five delivery attempts logged")
    mine = [(d["target"], d["attempt"], d["ok"], d["status"]) for d in ds]
    check(sorted(mine) == sorted([(flaky, 1, False, 500), (flaky, 2, True, 200),
                                  (dead, 1, False, 0), (dead, 2, False, 0),
                                  (slow, 1, False, 0)]), f"deliveries {ds}")
    check("timed out" in [d for d in ds if d["target"] == slow][0]["error"].lower() or
          "timeout" in [d for d in ds if d["target"] == slow][0]["error"].lower(), f"{ds}")
    check(all(d["error"] for d in ds if not d["ok"]), f"failed attempts without an error: {ds}")
    time.sleep(2.5)
    check(len(Flaky.received) == 2, f"retried after success: {Flaky.received}")
    m = S["d"].metrics()
    check(m["iocd_alerts_rules"] == 2 and m["iocd_alerts_firing"] == 1, f"metrics {m}")
    check(m["iocd_alerts_notifications_failed_total"] == 2, "the dead and slow targets gave up")
    check(m["iocd_alerts_notifications_total"] >= 1, "the flaky target's second try")
    srv.shutdown()
    slow_srv.shutdown()


def test_sighup_applies_config_rules():
    d = S["d"]
    changed = dict(CONFIG_RULE, condition={"op": ">", "value": 2000})
    added = dict(CONFIG_RULE, id="cfg-added", name="Thêm khi nạp lại")
    d.write_config(dict(d.config, alerts=[changed, added]))
    d.signal(signal.SIGHUP)

    def rules():
        status, rs = call("GET", "/api/v1/alert-rules", headers={})
        by = {r["id"]: r for r in rs}
        return by if "cfg-added" in by else None
    by = wait_for(rules, 5, "the reloaded rules")
    check(by["cfg-overdue"]["condition"]["value"] == 2000 and by["cfg-added"]["readonly"], f"{by}")
    d.write_config(dict(d.config, alerts=[changed]))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "cfg-added" not in {r["id"] for r in call("GET", "/api/v1/alert-rules",
                                                                 headers={})[1]}, 5,
             "the removed config rule to go")
    bad = dict(CONFIG_RULE, condition={"op": ">", "value": 1, "clear": 9})
    d.write_config(dict(d.config, alerts=[bad]))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "reason=alerts" in open(d.log_path, encoding="utf-8").read(), 5,
             "the bad reload refused")
    status, r = call("GET", "/api/v1/alert-rules/cfg-overdue", headers={})
    check(r["condition"]["value"] == 2000, f"a refused reload changed the rule: {r}")


def test_database_outage():
    """PostgreSQL stops while an alert fires and resolves: the lifecycle goes on, rule changes
    answer 503, and the queued history is stored once the database is back."""
    root = tempfile.mkdtemp(prefix="iocd-alerts-outage-")
    pg = Pg(root)
    pg.start()
    dsn = pg.create_db("iocd")
    rule = dict(CONFIG_RULE, condition={"op": ">", "value": 10}, group="Tân An")
    auth, wtoken = writer_token_config()
    d = Iocd({"database": {"dsn": dsn}, "auth": dict(auth, anonymous_role="operator"),
              "indicators": INDICATORS, "alerts": [rule], "ingest": {"batch_max_delay": "50ms"}},
             root=root)
    w = {"Authorization": f"Bearer {wtoken}"}
    try:
        d.start()
        line = "feedback,district=Tân\\ An,id=hotline overdue={}"
        check(d.request("POST", "/api/v1/write", line.format(50).encode(), w)[0] == 204, "write")

        def firing():
            status, body, _ = d.request("GET", "/api/v1/alerts?state=firing")
            return json.loads(body) if status == 200 and json.loads(body) else None
        a = wait_for(firing, 20, "the alert stored as firing")[0]
        pg.stop()
        wait_for(lambda: d.health()["db"] == "down", 20, "/healthz to say db down")
        d.request("POST", "/api/v1/write", line.format(1).encode(), w)  # spooled, still fed
        wait_for(lambda: d.metrics()["iocd_alerts_firing"] == 0, 10, "resolved during the outage")
        status, _, _ = d.request("POST", "/api/v1/alert-rules", json.dumps(rule_body()).encode(),
                                 {"Content-Type": "application/json"})
        check(status == 503, f"rule created without a database: {status}")
        status, _, _ = d.request("GET", "/api/v1/alerts")
        check(status == 503, f"history listed without a database: {status}")
        pg.start()

        def resolved():
            status, body, _ = d.request("GET", f"/api/v1/alerts/{a['id']}")
            doc = json.loads(body) if status == 200 else None
            return doc if doc and doc["state"] == "resolved" else None
        doc = wait_for(resolved, 40, "the resolution written after the outage")
        check([e["event"] for e in doc["events"]] == ["firing", "resolved"], f"{doc['events']}")
    finally:
        d.stop()
        pg.stop()


def teardown():
    S["d"].stop()


if __name__ == "__main__":
    setup()
    try:
        run([test_validation, test_create_rule, test_short_breach_never_fires, test_fires_once,
             test_ack, test_hysteresis_then_resolve, test_silence, test_preview,
             test_restart_keeps_rules_and_alert, test_webhook_retries_and_delivery_log,
             test_sighup_applies_config_rules, test_database_outage])
    finally:
        teardown()
