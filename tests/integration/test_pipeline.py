"""Core pipeline against a real PostgreSQL: simulator samples land, line-protocol writes are
acknowledged only when stored, bad lines are named, SIGTERM flushes, restart keeps data, SIGHUP
reloads collectors and refuses a bad config."""
import gzip
import json
import os
import signal
import subprocess
import time

from harness import Iocd, check, psql, run, wait_for, writer_token_config, IOCCTL_BIN
from wsclient import WsClient

BASE_DSN = os.environ["IOCD_TEST_DSN"]
DISTRICTS = ["Tân An", "Kiến Tường", "Bến Lức", "Đức Hòa", "Đức Huệ", "Cần Giuộc", "Cần Đước",
             "Châu Thành", "Tân Trụ", "Thủ Thừa", "Thạnh Hóa", "Tân Thạnh", "Mộc Hóa",
             "Vĩnh Hưng", "Tân Hưng"]


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def count(dsn, where="true"):
    return int(psql(dsn, f"SELECT count(*) FROM samples_view WHERE {where}")[0][0])


def make(dsn, collectors=None):
    auth, token = writer_token_config()
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "collectors": collectors or [],
              "ingest": {"batch_max_delay": "50ms"}})
    return d, token


def test_simulator_samples_arrive():
    dsn = fresh_db("it_pipeline_sim")
    d, _ = make(dsn, [{"plugin": "simulator", "name": "city", "interval": "500ms", "seed": 7}])
    try:
        d.start()
        wait_for(lambda: count(dsn) > 1000, 30, "simulator samples in samples_view")
        rows = psql(dsn, "SELECT DISTINCT tags->>'district' FROM samples_view "
                         "WHERE tags ? 'district'")
        got = {r[0] for r in rows}
        check(set(DISTRICTS) <= got, f"missing districts: {set(DISTRICTS) - got}")
        metrics = psql(dsn, "SELECT DISTINCT split_part(metric, '.', 1) FROM samples_view")
        families = {r[0] for r in metrics}
        for fam in ("traffic", "lighting", "camera", "service", "feedback"):
            check(fam in families, f"no {fam}.* metrics, got {families}")
        m = d.metrics()
        check(m['iocd_collector_up{collector="city",plugin="simulator"}'] == 1, "collector not up")
        check(m["iocd_samples_committed_total"] > 0, "nothing committed per /metrics")
        out = subprocess.run([IOCCTL_BIN, "--url", d.url, "status"], capture_output=True, text=True)
        check(out.returncode == 0 and "db" in out.stdout and "up" in out.stdout,
              f"iocctl status: rc={out.returncode} out={out.stdout} err={out.stderr}")
        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
        # Every sample iocd accepted is in the database after SIGTERM.
        received = int(m["iocd_samples_received_total"])
        check(count(dsn) >= received, f"{count(dsn)} rows < {received} received before stop")
    finally:
        d.cleanup()


def test_write_endpoint():
    dsn = fresh_db("it_pipeline_write")
    d, token = make(dsn)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        d.start()
        body = "traffic,district=Tân\\ An,id=s1 speed=42.5,flow=12i 1700000000000000000\n" \
               "# a comment\n" \
               "lighting,district=Bến\\ Lức value=1\n"
        status, resp, _ = d.request("POST", "/api/v1/write", body.encode(), auth)
        check(status == 204, f"write answered {status} {resp!r}")
        # 204 means stored: no waiting needed.
        rows = psql(dsn, "SELECT metric, tags->>'district', value, extract(epoch from ts) "
                         "FROM samples_view ORDER BY metric")
        check([r[0] for r in rows] == ["lighting", "traffic.flow", "traffic.speed"], f"rows {rows}")
        check(rows[1][1] == "Tân An" and float(rows[1][2]) == 12 and float(rows[2][2]) == 42.5,
              f"rows {rows}")
        check(abs(float(rows[2][3]) - 1700000000) < 1e-3, f"timestamp {rows[2][3]}")

        bad = "ok1 value=1\nbroken line here\nok2 value=2\n"
        status, resp, _ = d.request("POST", "/api/v1/write?precision=s", bad.encode(), auth)
        check(status == 400 and b'"line":2' in resp, f"bad line: {status} {resp!r}")
        check(count(dsn, "metric in ('ok1','ok2')") == 2, "good lines of a bad body were not kept")
        # A line the parser takes but ingest refuses (year 11476) is named by its line too.
        far = "ok3 value=3\nfar value=1 300000000000\n"
        status, resp, _ = d.request("POST", "/api/v1/write?precision=s", far.encode(), auth)
        check(status == 400 and b'"line":2' in resp and b"timestamp" in resp,
              f"refused line: {status} {resp!r}")
        check(count(dsn, "metric = 'ok3'") == 1, "good line of a refused body was not kept")

        status, _, _ = d.request("POST", "/api/v1/write", b"x value=1\n")
        check(status == 401, f"no token: {status}")
        status, _, _ = d.request("POST", "/api/v1/write", b"x value=1\n",
                                 {"Authorization": "Bearer wrong"})
        check(status == 401, f"wrong token: {status}")
        status, _, _ = d.request("POST", "/write?precision=ms", b"v1compat value=3 1700000000000\n",
                                 auth)
        check(status == 204, f"/write: {status}")
        # Telegraf compresses by default.
        gz = gzip.compress(b"zipped,district=T\xc3\xa2n\\ An value=7\n")
        status, resp, _ = d.request("POST", "/write", gz, {**auth, "Content-Encoding": "gzip"})
        check(status == 204, f"gzip body: {status} {resp!r}")
        check(count(dsn, "metric = 'zipped' AND value = 7") == 1, "gzip body not stored")
        status, resp, _ = d.request("POST", "/write", b"not gzip", {**auth, "Content-Encoding": "gzip"})
        check(status == 400 and b"gzip" in resp, f"bad gzip: {status} {resp!r}")
        status, _, _ = d.request("POST", "/write", b"x value=1\n", {**auth, "Content-Encoding": "br"})
        check(status == 415, f"unknown encoding: {status}")
        big = b"x value=1\n" * (4 << 20)
        try:
            status, _, _ = d.request("POST", "/api/v1/write", big, auth)
        except OSError:
            status = 413  # the server may close while the client is still sending
        check(status == 413, f"oversized body: {status}")
        check(d.health()["status"] == "ok", "not healthy after bad input")
    finally:
        d.stop()
        d.cleanup()


def test_sigterm_flushes_and_restart_keeps_data():
    dsn = fresh_db("it_pipeline_term")
    d, token = make(dsn)
    d.config["ingest"] = {"batch_max_delay": "10s"}  # samples sit in the open batch until SIGTERM
    d.write_config()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        d.start()
        # Fire writes without waiting for the answers, then SIGTERM at once.
        import threading
        results = []

        def post(i):
            lines = "".join(f"term,n={i} value={j}\n" for j in range(100))
            results.append(d.request("POST", "/api/v1/write", lines.encode(), auth)[0])
        threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(results.count(204) == 20, f"answers {results}")
        d.signal(signal.SIGTERM)
        check(d.proc.wait(30) == 0, "exit code after SIGTERM")
        d.log.close()
        check(count(dsn, "metric = 'term'") == 2000, f"{count(dsn, 'metric=' + chr(39) + 'term' + chr(39))} of 2000 after SIGTERM")
        d.start()
        check(count(dsn, "metric = 'term'") == 2000, "restart lost or duplicated data")
        check(int(psql(dsn, "SELECT count(*) FROM schema_migrations")[0][0]) >= 1, "migrations")
    finally:
        d.stop()
        d.cleanup()


def test_sighup_reload():
    dsn = fresh_db("it_pipeline_hup")
    d, _ = make(dsn, [{"plugin": "simulator", "name": "a", "interval": "500ms", "seed": 1}])
    d.config["auth"]["anonymous_role"] = "viewer"
    d.write_config()
    try:
        d.start()
        ws = WsClient("127.0.0.1", d.port)  # a dashboard connection that must survive reloads
        ws.send_text(json.dumps({"op": "subscribe", "topics": ["indicators"]}))
        check(json.loads(ws.recv())["type"] == "snapshot", "no snapshot")
        wait_for(lambda: 'iocd_collector_up{collector="a",plugin="simulator"}' in d.metrics(), 10,
                 "collector a")
        cfg = dict(d.config)
        cfg["collectors"] = cfg["collectors"] + [{"plugin": "simulator", "name": "b",
                                                  "interval": "500ms", "seed": 2}]
        d.write_config(cfg)
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metrics().get('iocd_collector_up{collector="b",plugin="simulator"}') == 1,
                 10, "collector b after SIGHUP")
        # A bad config is refused and the old one keeps running.
        with open(d.config_path, "w") as f:
            f.write('{"collectors": [{"plugin": "simulator", "name": "c", "interval": "fast"}]}')
        before = d.metrics()['iocd_collector_samples_total{collector="a",plugin="simulator"}']
        d.signal(signal.SIGHUP)
        wait_for(lambda: "reload_refused" in d.logs(), 10, "reload refused in the log")
        check("interval" in d.logs(), "refusal does not name the bad key")
        wait_for(lambda: d.metrics()['iocd_collector_samples_total{collector="a",plugin="simulator"}']
                 > before, 10, "collector a still running after a bad reload")
        check('iocd_collector_up{collector="b",plugin="simulator"}' in d.metrics(), "b dropped")
        ws.send_text('{"op":"ping"}')
        check(json.loads(ws.recv())["type"] == "pong", "dashboard connection dropped by SIGHUP")
        ws.close()
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    run([test_write_endpoint, test_simulator_samples_arrive, test_sigterm_flushes_and_restart_keeps_data,
         test_sighup_reload])
