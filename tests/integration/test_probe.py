"""The probe collector in the real iocd against local peers and a real PostgreSQL: TCP, HTTP 200
and 500, an RTSP responder, a closed port and a black hole, plus 1,000 targets from a file; up and
latency land in samples_view with their tags, and a bad target is named by --check-config."""
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading

from harness import IOCD_BIN, Iocd, check, free_port, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def listener(backlog=1024):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def serve(sock, handle):
    """Accepts on sock forever in a daemon thread; handle(conn) runs for each connection."""
    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    handle(conn)
                except OSError:
                    pass
    threading.Thread(target=loop, daemon=True).start()
    return sock.getsockname()[1]


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 8192:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


class Rtsp:
    """A small RTSP responder: OPTIONS gets 200 with the request's CSeq, anything else 405."""

    def __init__(self):
        self.options = []
        self.port = serve(listener(), self.handle)

    def handle(self, conn):
        head = read_head(conn)
        cseq = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                     if line.lower().startswith("cseq:")), "0")
        if head.startswith("OPTIONS rtsp://") and " RTSP/1.0\r\n" in head:
            self.options.append(head.split("\r\n")[0])
            conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, "
                         "PLAY, TEARDOWN\r\n\r\n".encode())
        else:
            conn.sendall(f"RTSP/1.0 405 Method Not Allowed\r\nCSeq: {cseq}\r\n\r\n".encode())


def http_server(status):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def latest(dsn, metric):
    """{target: (value, tags)} of the latest sample per target."""
    rows = psql(dsn, "SELECT DISTINCT ON (tags->>'target') tags->>'target', value, tags::text "
                     f"FROM samples_view WHERE metric = '{metric}' ORDER BY tags->>'target', ts DESC")
    return {r[0]: (float(r[1]), json.loads(r[2])) for r in rows}


def test_probe_to_samples_view():
    dsn = fresh_db("it_probe")
    tcp_port = serve(listener(), lambda conn: None)
    ok, bad = http_server(200), http_server(500)
    rtsp = Rtsp()
    black_hole = listener()  # the kernel completes handshakes; nobody ever answers
    closed = free_port()
    fd, targets_file = tempfile.mkstemp(suffix=".jsonl")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# 1,000 field devices\n")
        for i in range(1000):
            f.write(json.dumps({"name": f"dev-{i:04d}", "address": f"127.0.0.1:{tcp_port}",
                                "tags": {"district": "Bến Lức"}}, ensure_ascii=False) + "\n")
    d = Iocd({"database": {"dsn": dsn}, "ingest": {"batch_max_delay": "50ms"},
              "collectors": [{"plugin": "probe", "name": "cams", "interval": "1s",
                              "target_timeout": "300ms", "tags": {"source": "vms"},
                              "targets_file": targets_file,
                              "targets": [
                                  {"name": "cam-TA-001", "kind": "rtsp",
                                   "address": f"127.0.0.1:{rtsp.port}",
                                   "path": "/Streaming/Channels/101",
                                   "tags": {"district": "Tân An"}},
                                  {"name": "web-ok", "kind": "http",
                                   "address": f"127.0.0.1:{ok.server_address[1]}"},
                                  {"name": "web-500", "kind": "http",
                                   "address": f"127.0.0.1:{bad.server_address[1]}"},
                                  {"name": "nvr", "kind": "tcp", "address": f"127.0.0.1:{tcp_port}"},
                                  {"name": "closed", "kind": "tcp", "address": f"127.0.0.1:{closed}"},
                                  {"name": "black-hole", "kind": "rtsp",
                                   "address": f"127.0.0.1:{black_hole.getsockname()[1]}"}]}]})
    try:
        d.start()
        wait_for(lambda: len(latest(dsn, "probe.up")) == 1006, 30, "probe.up for all 1,006 targets")
        up = latest(dsn, "probe.up")
        want = {"cam-TA-001": 1, "web-ok": 1, "web-500": 0, "nvr": 1, "closed": 0, "black-hole": 0}
        for name, value in want.items():
            check(up[name][0] == value, f"probe.up{{target={name}}} = {up[name][0]}, want {value}")
        check(up["cam-TA-001"][1] == {"target": "cam-TA-001", "kind": "rtsp", "district": "Tân An",
                                      "source": "vms"}, f"tags {up['cam-TA-001'][1]}")
        devices = [v for k, v in up.items() if k.startswith("dev-")]
        check(len(devices) == 1000 and all(v[0] == 1 for v in devices), "a file target is down")
        check(up["dev-0999"][1] == {"target": "dev-0999", "kind": "tcp", "district": "Bến Lức",
                                    "source": "vms"}, f"tags {up['dev-0999'][1]}")
        lat = latest(dsn, "probe.latency_ms")
        check(set(k for k in lat if not k.startswith("dev-")) == {"cam-TA-001", "web-ok", "nvr"},
              f"latency only for targets that are up: {sorted(lat)[:10]}")
        check(all(0 <= v[0] < 300 for v in lat.values()), "latency out of range")
        check(rtsp.options and rtsp.options[0] == f"OPTIONS rtsp://127.0.0.1:{rtsp.port}"
              "/Streaming/Channels/101 RTSP/1.0", f"RTSP requests: {rtsp.options[:2]}")
        # the README's query for what is down now
        down = psql(dsn, """SELECT target FROM (
              SELECT DISTINCT ON (tags->>'target') tags->>'target' AS target, ts, value
              FROM samples_view WHERE metric = 'probe.up' AND ts > now() - interval '5 minutes'
              ORDER BY tags->>'target', ts DESC) latest WHERE value = 0 ORDER BY target""")
        check([r[0] for r in down] == ["black-hole", "closed", "web-500"], f"down: {down}")
        key = 'iocd_collector_up{collector="cams",plugin="probe"}'
        wait_for(lambda: d.metrics()[key] == 1, 10, "probe collector up on /metrics")
        check('collector="cams" plugin=probe event=targets_down down=3 of=1006' in d.logs(),
              f"down targets not logged:\n{d.logs()[-3000:]}")
        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
    finally:
        d.cleanup()
        ok.shutdown()
        bad.shutdown()
        black_hole.close()
        os.unlink(targets_file)


def test_check_config_names_the_target():
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write('{"collectors": [\n  {"plugin": "probe", "name": "cams", "targets": [\n'
                '    {"name": "a", "kind": "rtsp", "address": "10.0.0.5:99999"}]}\n]}\n')
    try:
        out = subprocess.run([IOCD_BIN, "--check-config", "--config", path], capture_output=True,
                             text=True, timeout=60)
        check(out.returncode != 0, "a bad port was accepted")
        check(f"{path}:2:" in out.stderr and
              "targets[0].address: port must be a number from 1 to 65535" in out.stderr,
              f"got: {out.stderr!r}")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    run([test_probe_to_samples_view, test_check_config_names_the_target])
