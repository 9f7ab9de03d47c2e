"""Ingest benchmark: samples/s committed in PostgreSQL by iocd (line protocol over HTTP, and the
simulator in-process) against psql binary COPY of the same rows into the same schema, same run."""
import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Iocd, Pg, psql, wait_for, writer_token_config  # noqa: E402

SERIES = 10000


def post_all(port, token, bodies, conns=4):
    """Sends the bodies over `conns` keep-alive connections; returns the statuses seen."""
    statuses = []
    lock = threading.Lock()
    it = iter(bodies)

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                body = next(it, None)
            if body is None:
                break
            c.request("POST", "/api/v1/write?precision=us", body,
                      {"Authorization": f"Bearer {token}"})
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
        c.close()
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def make_bodies(total, per_body):
    now_us = int(time.time() * 1e6)
    bodies = []
    for b in range(total // per_body):
        base = b * per_body
        lines = [f"bench,s={(base + i) % SERIES} value={(base + i) * 0.5} {now_us - (base + i)}"
                 for i in range(per_body)]
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


def bench_http(pg, total, per_body):
    dsn = pg.create_db("bench_http")
    auth, token = writer_token_config()
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "log": {"level": "warn"}})
    bodies = make_bodies(total, per_body)
    try:
        d.start()
        started = time.time()
        statuses = post_all(d.port, token, bodies)
        # 204 means committed (or spooled): all are durable once the last answer is in.
        elapsed = time.time() - started
        bad = [s for s in statuses if s != 204]
        assert not bad, f"non-204 answers: {bad[:5]}"
        n = int(psql(dsn, "SELECT count(*) FROM samples")[0][0])
        assert n == total, f"{n} rows, want {total}"
        rss = d.metrics()["iocd_process_max_rss_bytes"]
        d.stop()
        return total / elapsed, rss, dsn
    finally:
        d.cleanup()


def bench_simulator(pg, seconds):
    dsn = pg.create_db("bench_sim")
    d = Iocd({"database": {"dsn": dsn}, "log": {"level": "warn"},
              "collectors": [{"plugin": "simulator", "name": "city", "interval": "200ms", "scale": 10}]})
    try:
        d.start()
        time.sleep(2)
        m0, t0 = d.metrics()["iocd_samples_committed_total"], time.time()
        time.sleep(seconds)
        m1, t1 = d.metrics()["iocd_samples_committed_total"], time.time()
        dropped = d.metrics()["iocd_samples_dropped_total"]
        d.stop()
        return (m1 - m0) / (t1 - t0), dropped
    finally:
        d.cleanup()


def bench_copy(pg, src_dsn, total):
    """psql binary COPY of the same rows into the same (empty) schema."""
    path = os.path.join(tempfile.mkdtemp(prefix="iocd-bench-"), "rows.bin")
    os.chmod(os.path.dirname(path), 0o777)
    psql(src_dsn, f"COPY (SELECT series_id, ts, value FROM samples) TO '{path}' (FORMAT binary)")
    psql(src_dsn, "TRUNCATE samples")
    started = time.time()
    subprocess.run(["psql", src_dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    f"\\copy samples (series_id, ts, value) FROM '{path}' (FORMAT binary)"], check=True)
    elapsed = time.time() - started
    n = int(psql(src_dsn, "SELECT count(*) FROM samples")[0][0])
    assert n == total, f"COPY loaded {n}"
    os.unlink(path)
    return total / elapsed


def figures(pg, quick):
    """Runs the ingest comparison on pg. Returns [(name, value, note)]."""
    total = 400_000 if quick else 2_000_000
    http_rate, rss, dsn = bench_http(pg, total, 10_000)
    copy_rate = bench_copy(pg, dsn, total)
    sim_rate, sim_dropped = bench_simulator(pg, 10 if quick else 30)
    return [
        ("ingest_samples_per_s", f"{http_rate:.0f}", "line protocol over HTTP, durable (204 = committed)"),
        ("copy_rows_per_s", f"{copy_rate:.0f}", "psql binary COPY of the same rows, same schema"),
        ("ingest_vs_copy", f"{http_rate / copy_rate:.3f}", "ratio (goal >= 0.9)"),
        ("simulator_samples_per_s", f"{sim_rate:.0f}", f"in-process simulator scale 10 (dropped {sim_dropped:.0f})"),
        ("simulator_vs_copy", f"{sim_rate / copy_rate:.3f}", "offered load, not a ceiling"),
        ("ingest_peak_rss_mb", f"{rss / 1e6:.1f}", "iocd peak RSS during the HTTP run"),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    pg = Pg(tempfile.mkdtemp(prefix="iocd-bench-pg-"))
    pg.start()
    try:
        figs = figures(pg, args.quick)
    finally:
        pg.stop()
    for name, value, note in figs:
        print(f"{name}={value}  # {note}")


if __name__ == "__main__":
    main()
