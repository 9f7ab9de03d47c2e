"""Export benchmark: GET /api/v1/export streaming a CSV of N rollup rows (1-minute step, every
group) from a real iocd, with iocd's RSS sampled all along (it must stay flat)."""
import hashlib
import http.client
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Iocd, psql  # noqa: E402

ANALYST = "bench-analyst-" + os.urandom(8).hex()
GROUPS = 100


def rss_kb(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def seed(dsn, minutes):
    """GROUPS groups x minutes rows of indicator bench.x in rollup_1m, from 2025-01-01 UTC."""
    psql(dsn, "INSERT INTO rollup_1m (indicator, grp, ts, value, count, min, max, ticks)"
              f" SELECT 'bench.x', 'g' || lpad(g::text, 3, '0'),"
              f" timestamptz '2025-01-01 00:00:00+00' + m * interval '1 minute',"
              f" (g * 7 + m) % 100, 240, 0, 100, 240"
              f" FROM generate_series(0, {GROUPS - 1}) g, generate_series(0, {minutes - 1}) m")
    psql(dsn, "ANALYZE rollup_1m")


def figures(pg, build, quick):
    """Returns [(name, value, note)] for an export of 1M (quick) or 10M rows."""
    rows = 1_000_000 if quick else 10_000_000
    minutes = rows // GROUPS
    dsn = pg.create_db("bench_export")
    d = Iocd({"database": {"dsn": dsn}, "log": {"level": "warn"},
              "auth": {"tokens": [{"name": "analyst", "role": "analyst",
                                   "sha256": hashlib.sha256(ANALYST.encode()).hexdigest()}]},
              "indicators": [{"id": "bench.x", "name": {"vi": "x", "en": "x"}, "metric": "bench.x",
                              "agg": "avg", "window": "1m", "group_by": ["g"]}]})
    try:
        d.start()
        t0 = time.time()
        seed(dsn, minutes)
        seed_s = time.time() - t0
        pid = d.proc.pid
        rss0 = rss_kb(pid)
        peak = [rss0]
        done = threading.Event()

        def sample():
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss_kb(pid))
        sampler = threading.Thread(target=sample)
        sampler.start()
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1735689600 + minutes * 60))
        path = ("/api/v1/export?indicators=bench.x&group=*&step=1m&format=csv&tz=UTC"
                f"&from=2025-01-01T00:00:00Z&to={end}")
        started = time.time()
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=600)
        c.request("GET", path, headers={"Authorization": f"Bearer {ANALYST}"})
        r = c.getresponse()
        if r.status != 200:
            raise AssertionError(f"export answered {r.status}: {r.read()[:300]!r}")
        lines, first_byte = 0, None
        while True:
            chunk = r.read(1 << 16)
            if not chunk:
                break
            first_byte = first_byte or time.time()
            lines += chunk.count(b"\n")
        elapsed = time.time() - started
        done.set()
        sampler.join()
        c.close()
        got = lines - 1  # the header line
        if got != rows:
            raise AssertionError(f"export gave {got} rows, want {rows}")
        hwm = rss_kb(pid, "VmHWM")
        d.stop()
    finally:
        d.cleanup()
    return [
        ("export_rows_per_s", f"{rows / elapsed:.0f}",
         f"{rows} rows CSV step 1m, {elapsed:.1f} s incl. {first_byte - started:.1f} s to the first byte"),
        ("export_peak_rss_mb", f"{peak[0] / 1024:.1f}",
         f"iocd RSS peak during the export (before: {rss0 / 1024:.1f}, process HWM {hwm / 1024:.1f})"),
        ("export_seed_s", f"{seed_s:.1f}", "time to seed the rollup rows (SQL INSERT, not iocd)"),
    ]
