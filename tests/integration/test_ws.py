"""Live push over /ws (protocol ioc.v1) from a real iocd: refusals (no credentials, writer role,
foreign Origin, no subprotocol), snapshot then updates after POST /api/v1/write with the
sample-to-client latency printed, gapless seq, ping and bad frames, and a stalled client that
neither slows a healthy one nor grows iocd's memory."""
import hashlib
import json
import os
import threading
import time

from harness import Iocd, check, psql, run, wait_for
from wsclient import HandshakeRefused, WsClient

BASE_DSN = os.environ["IOCD_TEST_DSN"]
VIEWER = "test-viewer-" + os.urandom(8).hex()
WRITER = "test-writer-" + os.urandom(8).hex()
INDICATOR = "traffic.speed_now"


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def make():
    return Iocd({
        "database": {"dsn": fresh_db("it_ws")},
        "auth": {"tokens": [{"name": "wall", "role": "viewer", "sha256": sha(VIEWER)},
                            {"name": "gw", "role": "writer", "sha256": sha(WRITER)}]},
        "ingest": {"batch_max_delay": "20ms"},
        "indicators": [{"id": INDICATOR, "name": {"vi": "Tốc độ hiện tại", "en": "Current speed"},
                        "unit": "km/h", "metric": "traffic.speed", "agg": "last", "window": "5m",
                        "group_by": ["district"]}],
    })


D = None


def connect(**kw):
    headers = kw.pop("headers", {"Authorization": f"Bearer {VIEWER}"})
    return WsClient("127.0.0.1", D.port, headers=headers, **kw)


def write(lines):
    status, body, _ = D.request("POST", "/api/v1/write", body=lines.encode(),
                                headers={"Authorization": f"Bearer {WRITER}"})
    check(status == 204, f"write answered {status}: {body!r}")


def recv_json(ws, timeout=5.0):
    return json.loads(ws.recv(timeout))


def refused(**kw):
    try:
        connect(**kw).close()
    except HandshakeRefused as e:
        return e.status
    return 101


def test_refusals():
    check(refused(headers={}) == 401, "an upgrade without credentials was not refused with 401")
    check(refused(headers={"Authorization": "Bearer nope"}) == 401, "a bad token was not refused")
    check(refused(headers={"Authorization": f"Bearer {WRITER}"}) == 403,
          "the writer role may not subscribe")
    check(refused(headers={"Authorization": f"Bearer {VIEWER}",
                           "Origin": "http://evil.example"}) == 403, "a foreign Origin was not refused")
    check(refused(protocol=None) != 101, "an upgrade without subprotocol ioc.v1 was accepted")
    check(refused(path="/api/v1/write") != 101, "an upgrade on another path was accepted")
    ok = refused(headers={"Authorization": f"Bearer {VIEWER}", "Origin": f"http://127.0.0.1:{D.port}"})
    check(ok == 101, f"iocd's own Origin was refused ({ok})")
    m = D.metrics()
    # the hub counts what it refuses (credentials, role, Origin); lws refuses the other two
    check(m["iocd_ws_refused_total"] == 4, f"refusals counted: {m['iocd_ws_refused_total']}")


def test_snapshot_then_updates():
    ws = connect()
    try:
        write(f"traffic,district=Tân\\ An speed=30\n")
        ws.send_text(json.dumps({"op": "subscribe", "topics": [f"indicator:{INDICATOR}"]}))
        snap = recv_json(ws)
        check(snap["type"] == "snapshot" and snap["seq"] == 1, f"first frame: {snap}")
        check(snap["topics"] == [f"indicator:{INDICATOR}"], f"snapshot topics: {snap['topics']}")
        seq, latencies = 1, []
        value = None
        for i in range(10):
            time.sleep(0.3)
            value = 40 + i
            started = time.time()
            write(f"traffic,district=Tân\\ An speed={value}\n")
            while True:
                f = recv_json(ws)
                seq += 1
                check(f["seq"] == seq, f"seq gap: expected {seq}, got {f}")
                check(f["type"] == "update", f"expected an update, got {f}")
                items = [it for it in f["items"] if it["group"] == "Tân An"]
                if items and items[-1]["value"] == value:
                    break
            latencies.append(time.time() - started)
            check(items[-1]["indicator"] == INDICATOR and items[-1]["status"] in
                  ("ok", "warn", "crit", "no-data"), f"item: {items[-1]}")
        latencies.sort()
        print(f"sample-to-client latency over {len(latencies)} writes (POST acked + engine + hub): "
              f"median {latencies[len(latencies) // 2] * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms", flush=True)
        check(latencies[-1] < 1.0, f"an update took {latencies[-1]:.2f}s")
        # ping and bad frames are answered in sequence; the connection stays open
        ws.send_text('{"op":"ping"}')
        f = recv_json(ws)
        check(f == {"type": "pong", "seq": seq + 1}, f"pong: {f}")
        ws.send_text("{not json")
        f = recv_json(ws)
        check(f["type"] == "error" and f["seq"] == seq + 2 and "not valid JSON" in f["message"],
              f"error frame: {f}")
        ws.send_text('{"op":"subscribe","topics":["weather"]}')
        f = recv_json(ws)
        check(f["type"] == "error" and "topics[0]" in f["message"], f"error frame: {f}")
        ws.send_text("x" * 5000)
        f = recv_json(ws)
        check(f["type"] == "error" and "4096" in f["message"], f"error frame: {f}")
        ws.send_text('{"op":"ping"}')
        check(recv_json(ws)["type"] == "pong", "connection unusable after bad frames")
        check(D.metrics()["iocd_ws_bad_frames_total"] >= 3, "bad frames not counted")
    finally:
        ws.close()


def rss_kb():
    with open(f"/proc/{D.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_stalled_client():
    good = connect()
    slow = connect(rcvbuf=4096)
    stop = threading.Event()
    try:
        for ws in (good, slow):
            ws.send_text('{"op":"subscribe","topics":["indicators"]}')
            check(recv_json(ws)["type"] == "snapshot", "no snapshot")
        # many groups make big frames, so the stalled client's socket fills quickly
        groups = [f"d{i:04d}" for i in range(2000)]
        seq = [1]
        worst = [0.0]

        def read_good():
            while not stop.is_set():
                try:
                    f = recv_json(good, timeout=2)
                except TimeoutError:
                    continue
                seq[0] += 1
                if f["seq"] != seq[0]:
                    worst[0] = float("inf")
                    return
                stamp = [it for it in f["items"] if it["group"] == "d0000"]
                if stamp:
                    worst[0] = max(worst[0], time.time() - stamp[0]["value"])
        reader = threading.Thread(target=read_good)
        reader.start()
        # write until the stalled client's queue overflowed, then 12 rounds more
        rss, max_rss, after = [], [], None
        for rnd in range(160):
            now = time.time()
            write("".join(f"traffic,district={g} speed={now}\n" for g in groups))
            time.sleep(0.25)
            m = D.metrics()
            if after is None and m["iocd_ws_resyncs_total"] >= 1:
                after = rnd
                rss.append(rss_kb())
                max_rss.append(m["iocd_process_max_rss_bytes"] / 1024)
            if after is not None and rnd == after + 12:
                rss.append(rss_kb())
                max_rss.append(m["iocd_process_max_rss_bytes"] / 1024)
                break
        stop.set()
        reader.join()
        m = D.metrics()
        check(after is not None, "the stalled client was never resynced")
        print(f"stalled client beside a healthy one: resynced after {after + 1} rounds of "
              f"{len(groups)} samples; healthy client's worst latency {worst[0] * 1000:.0f} ms; "
              f"iocd RSS {rss[0]} kB at the first resync, {rss[1]} kB 12 rounds later (peak per "
              f"/metrics {max_rss[0]:.0f} -> {max_rss[1]:.0f} kB); resyncs "
              f"{m['iocd_ws_resyncs_total']:.0f}, frames queued now {m['iocd_ws_queued_frames']:.0f}",
              flush=True)
        check(worst[0] < 1.5, f"the healthy client fell behind ({worst[0]:.2f}s) or saw a gap")
        check(m["iocd_ws_queued_frames"] <= 64 * 2, "queued frames over the bound")
        # Under ASan freed memory sits in quarantine, so RSS says nothing there.
        if not os.environ.get("IOCD_SANITIZED"):
            check(max_rss[1] - max_rss[0] < 8 * 1024, f"iocd's peak RSS grew: {max_rss} kB")
        # the stalled client reads again: a fresh snapshot, seq without a gap
        sseq, saw_snapshot = 1, False
        while True:
            try:
                f = recv_json(slow, timeout=1)
            except TimeoutError:
                break
            sseq += 1
            check(f["seq"] == sseq, f"stalled client: seq gap at {f['seq']} (expected {sseq})")
            saw_snapshot |= f["type"] == "snapshot"
        check(saw_snapshot, "the stalled client got no fresh snapshot")
    finally:
        stop.set()
        good.close()
        slow.close()


def main():
    global D
    D = make()
    try:
        D.start()
        wait_for(lambda: D.metrics().get("iocd_ws_connections") is not None, 10,
                 "the hub's metrics on /metrics")
        run([test_refusals, test_snapshot_then_updates, test_stalled_client])
        check(D.stop() == 0, "iocd did not exit 0 on SIGTERM with WebSocket clients")
    finally:
        D.cleanup()


if __name__ == "__main__":
    main()
