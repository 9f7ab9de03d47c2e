"""iocctl rule export/import: rules exported from one iocd (config-file rules left out) are
imported into another with a fresh database and read back the same; a second import updates; a
refused rule stops the import naming the rule and field; a viewer token is refused clearly."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from harness import IOCCTL_BIN, Iocd, check, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]

INDICATORS = [
    {"id": "feedback.overdue", "name": {"vi": "Phản ánh quá hạn", "en": "Overdue feedback"},
     "unit": "hồ sơ", "metric": "feedback.overdue", "agg": "avg", "window": "10m",
     "group_by": ["district"]},
]
CONFIG_RULE = {"id": "cfg-overdue", "name": "Quá hạn (cấu hình)", "indicator": "feedback.overdue",
               "condition": {"op": ">", "value": 1000}, "severity": "warning"}
API_RULES = [
    {"id": "overdue-tan-an", "name": "Phản ánh quá hạn ở Tân An", "indicator": "feedback.overdue",
     "group": "Tân An", "condition": {"op": ">", "value": 10, "clear": 5}, "for": "2m",
     "severity": "critical", "message": {"vi": "{indicator} tại {group}: {value} {unit}"},
     "notify": [{"webhook": "http://127.0.0.1:9/hook", "timeout": "2s", "retries": 1}],
     "repeat": "30m"},
    {"name": "Không có số liệu", "indicator": "feedback.overdue",
     "condition": {"op": "nodata", "after": "10m"}, "enabled": False},
]

S = {"tmp": tempfile.mkdtemp(prefix="iocctl-rules-")}


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def token(name, role):
    t = f"test-{name}-" + os.urandom(8).hex()
    return {"name": name, "role": role, "sha256": hashlib.sha256(t.encode()).hexdigest()}, t


def start(db):
    return Iocd({"database": {"dsn": fresh_db(db)}, "auth": {"tokens": S["auth"]},
                 "indicators": INDICATORS, "alerts": [CONFIG_RULE]}).start()


def call(d, method, path, body=None):
    hdrs = {"Authorization": f"Bearer {S['op']}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    status, resp, _ = d.request(method, path, data, hdrs)
    return status, json.loads(resp) if resp else None


def api_rules(d):
    status, rules = call(d, "GET", "/api/v1/alert-rules")
    check(status == 200, f"GET rules answered {status} {rules}")
    return {r["id"]: r for r in rules if r["source"] == "api"}


def iocctl(d, *args, tok=None):
    env = dict(os.environ, IOCD_URL=d.url, IOCD_TOKEN=tok or S["op"])
    return subprocess.run([IOCCTL_BIN, *args], capture_output=True, text=True, env=env, timeout=60)


def path(name):
    return os.path.join(S["tmp"], name)


def write_file(name, rules):
    with open(path(name), "w", encoding="utf-8") as f:
        f.write(rules if isinstance(rules, str) else json.dumps(rules, ensure_ascii=False))
    return path(name)


def setup():
    op, S["op"] = token("duty-op", "operator")
    viewer, S["viewer"] = token("leader", "viewer")
    S["auth"] = [op, viewer]
    S["a"] = start("it_iocctl_rules_a")
    S["b"] = start("it_iocctl_rules_b")
    for rule in API_RULES:
        status, resp = wait_for(lambda: (lambda r: r if r[0] != 503 else None)(
            call(S["a"], "POST", "/api/v1/alert-rules", rule)), 20, "rules loaded")
        check(status == 201, f"create answered {status} {resp}")
    probe = dict(API_RULES[1], id="probe")
    status, resp = wait_for(lambda: (lambda r: r if r[0] != 503 else None)(
        call(S["b"], "POST", "/api/v1/alert-rules", probe)), 20, "the second iocd's rules")
    check(status == 201, f"probe answered {status} {resp}")
    check(call(S["b"], "DELETE", "/api/v1/alert-rules/probe")[0] == 204, "probe not deleted")


def test_export_leaves_out_config_rules():
    r = iocctl(S["a"], "rule", "export", path("rules.json"), tok=S["viewer"])
    check(r.returncode == 0, f"export exit {r.returncode}: {r.stderr}")
    check("exported 2 rule(s)" in r.stderr and "left out 1 rule(s)" in r.stderr, r.stderr)
    with open(path("rules.json"), encoding="utf-8") as f:
        got = json.load(f)
    check(len(got) == 2 and all("source" not in x and "readonly" not in x for x in got), f"{got}")
    check({x["id"] for x in got} == set(api_rules(S["a"])), f"{got}")
    check("cfg-overdue" not in {x["id"] for x in got}, f"config rule exported: {got}")
    stdout = iocctl(S["a"], "rule", "export")
    check(stdout.returncode == 0 and json.loads(stdout.stdout) == got, f"stdout {stdout}")


def test_import_into_fresh_iocd():
    check(api_rules(S["b"]) == {}, "the second iocd starts with API rules")
    r = iocctl(S["b"], "rule", "import", path("rules.json"))
    check(r.returncode == 0, f"import exit {r.returncode}: {r.stderr}")
    check("created 2, updated 0, skipped 0" in r.stdout, f"{r.stdout!r} {r.stderr!r}")
    a, b = api_rules(S["a"]), api_rules(S["b"])
    check(a == b, f"rules differ:\n{a}\n{b}")
    check(b["overdue-tan-an"]["condition"] == {"op": ">", "value": 10, "clear": 5}, f"{b}")


def test_reimport_updates():
    with open(path("rules.json"), encoding="utf-8") as f:
        rules = json.load(f)
    rules[0]["severity"] = "info"
    write_file("changed.json", rules)
    r = iocctl(S["b"], "rule", "import", "--skip-existing", path("changed.json"))
    check(r.returncode == 0 and "created 0, updated 0, skipped 2" in r.stdout, f"{r}")
    check(api_rules(S["b"])[rules[0]["id"]].get("severity") != "info", "--skip-existing changed")
    r = iocctl(S["b"], "rule", "import", path("changed.json"))
    check(r.returncode == 0 and "created 0, updated 2, skipped 0" in r.stdout, f"{r}")
    check(api_rules(S["b"])[rules[0]["id"]]["severity"] == "info", "re-import did not update")
    check(len(api_rules(S["b"])) == 2, f"re-import duplicated: {api_rules(S['b'])}")


def test_bad_rule_stops_with_its_field():
    rules = [dict(API_RULES[0], id="good-first"),
             dict(API_RULES[0], id="bad-op", condition={"op": "~", "value": 1}),
             dict(API_RULES[0], id="never-reached")]
    r = iocctl(S["b"], "rule", "import", write_file("bad.json", rules))
    check(r.returncode != 0, f"bad rule file exit 0: {r}")
    check('rule 2 (id "bad-op"' in r.stderr and '(field "condition.op")' in r.stderr
          and "HTTP 422" in r.stderr, f"stderr {r.stderr!r}")
    check("created 1, updated 0, skipped 0" in r.stderr, f"stderr {r.stderr!r}")
    ids = api_rules(S["b"])
    check("good-first" in ids and "bad-op" not in ids and "never-reached" not in ids, f"{ids}")
    r = iocctl(S["b"], "rule", "import", write_file("broken.json", '[\n  {"name": "x",}\n]'))
    check(r.returncode != 0 and "broken.json:2:" in r.stderr and "invalid JSON" in r.stderr,
          f"{r}")
    r = iocctl(S["b"], "rule", "import", write_file("object.json", API_RULES[0]))
    check(r.returncode != 0 and "expected a JSON array" in r.stderr, f"{r}")
    r = iocctl(S["b"], "rule", "import", write_file("cfg.json", [CONFIG_RULE]))
    check(r.returncode != 0 and 'id "cfg-overdue"' in r.stderr and "HTTP 409" in r.stderr
          and "configuration file" in r.stderr, f"{r}")


def test_viewer_is_refused():
    before = api_rules(S["b"])
    r = iocctl(S["b"], "rule", "import", write_file("new.json", [dict(API_RULES[0], id="viewer")]),
               tok=S["viewer"])
    check(r.returncode != 0 and "HTTP 403" in r.stderr and "operator or admin" in r.stderr,
          f"{r}")
    check(api_rules(S["b"]) == before, "a viewer changed rules")
    r = iocctl(S["b"], "rule", "export", tok="not-a-token")
    check(r.returncode != 0 and "HTTP 401" in r.stderr and r.stdout == "", f"{r}")


def teardown():
    for d in ("a", "b"):
        if d in S:
            S[d].stop()
            S[d].cleanup()
    shutil.rmtree(S["tmp"], ignore_errors=True)


if __name__ == "__main__":
    try:
        setup()
        run([test_export_leaves_out_config_rules, test_import_into_fresh_iocd,
             test_reimport_updates, test_bad_rule_stops_with_its_field, test_viewer_is_refused])
    finally:
        teardown()
