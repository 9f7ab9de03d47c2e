"""WebSocket fan-out benchmark: iocd against a Node.js `ws` hub and a plain-write() C floor, same
load client (ws_load), same clients, same update frames, in the same run, for each client count."""
import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import Iocd, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWER = "bench-viewer-" + os.urandom(8).hex()
WRITER = "bench-writer-" + os.urandom(8).hex()


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def raise_nofile():
    """Children (the hubs, the load client) inherit the raised descriptor limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_kv(text):
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+)=(\S+)$", text, re.M)}


def fmt(v, digits=1):
    return "n/a" if v is None else f"{v:.{digits}f}"


def percentile(sorted_vals, q):
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * q))]


class Hub:
    """One hub process under test: start(), pid, port, stop()."""

    def __init__(self, kind, build, pg):
        self.kind, self.build, self.pg = kind, build, pg
        self.proc = self.iocd = None
        self.port = free_port()

    def start(self):
        if self.kind == "iocd":
            dsn = self.pg.create_db("bench_ws")
            self.iocd = Iocd({
                "database": {"dsn": dsn}, "log": {"level": "warn"},
                "auth": {"tokens": [{"name": "wall", "role": "viewer", "sha256": sha(VIEWER)},
                                    {"name": "gw", "role": "writer", "sha256": sha(WRITER)}]},
                "indicators": [{"id": "bench.marker", "name": {"vi": "Mốc", "en": "Marker"},
                                "metric": "bench", "agg": "last", "window": "5m"}],
            })
            self.iocd.start()
            self.port, self.pid = self.iocd.port, self.iocd.proc.pid
            # A value before the clients come: an indicator without data is republished at every
            # engine tick (its ts is the tick's), which would stream frames to the "idle" clients.
            status, body, _ = self.iocd.request("POST", "/api/v1/write", body=b"bench value=0\n",
                                                headers={"Authorization": f"Bearer {WRITER}"})
            if status != 204:
                raise AssertionError(f"seed write answered {status}: {body!r}")
            time.sleep(0.6)
            return
        if self.kind == "node":
            cmd = ["node", os.path.join(HERE, "node_hub.mjs"), str(self.port)]
        else:
            cmd = [os.path.join(self.build, "tests", "floor_hub"), str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening"):
            raise AssertionError(f"{self.kind} hub did not start: {line!r}")
        self.pid = self.proc.pid

    def stop(self):
        """Stops the hub; returns what it printed on the way out (the floor's burst times)."""
        if self.iocd:
            try:
                self.iocd.stop()
            except AssertionError:
                sys.stderr.write(self.iocd.logs()[-3000:])
                raise
            self.iocd.cleanup()
            return ""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return out


def run_one(kind, build, pg, clients, updates):
    """One hub, `clients` clients, `updates` updates. Returns a dict of results."""
    hub = Hub(kind, build, pg)
    hub.start()
    out_path = tempfile.mktemp(prefix=f"iocd-bench-{kind}-", suffix=".txt")
    try:
        rss0 = proc_status(hub.pid, "VmRSS")
        cmd = [os.path.join(build, "tests", "ws_load"), "--port", str(hub.port),
               "--clients", str(clients), "--updates", str(updates), "--token", VIEWER,
               "--out", out_path, "--hold"]
        cmd += ["--write-token", WRITER] if kind == "iocd" else ["--feed"]
        load = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        head = ""
        while not head.endswith("ready\n"):
            line = load.stdout.readline()
            if not line:
                raise AssertionError(f"ws_load against {kind} ended early: {head}")
            head += line
        time.sleep(1.0)  # let the hub settle (lazy allocations, lws timers)
        rss1 = proc_status(hub.pid, "VmRSS")
        cpu0 = proc_cpu_s(hub.pid)
        probe = FlushProbe(hub.pid, os.path.join(build, "iocd")) if kind == "iocd" else None
        load.stdin.write("go\n")
        load.stdin.flush()
        tail, _ = load.communicate(timeout=updates * 2 + 120)
        cpu1 = proc_cpu_s(hub.pid)
        flushes = probe.finish() if probe else None
        res = parse_kv(head + tail)
        res.update({"rss0_kb": rss0, "rss1_kb": rss1, "cpu_s": cpu1 - cpu0})
        hub_out = hub.stop()
        hub = None
        res.update(parse_kv(hub_out))
        res["lat_ms"], res["hub_ms"] = load_latencies(out_path, flushes)
        return res
    finally:
        if hub:
            hub.stop()
        if os.path.exists(out_path):
            os.unlink(out_path)


def load_latencies(path, flushes):
    """Returns the sorted latencies (ms) from production, and from the hub's flush (the hub part
    of iocd's path: the latest hub_flush before an update's first receipt) if flushes is given."""
    recs = []
    with open(path) as f:
        for line in f:
            u, lat, mono = line.split()
            recs.append((int(u), int(lat) / 1000.0, int(mono) / 1000.0))
    lat = sorted(r[1] for r in recs)
    if not flushes:
        return lat, None
    first = {}
    for u, _, mono in recs:
        first[u] = min(first.get(u, mono), mono)
    start = {}
    for u, t in first.items():
        before = [x for x in flushes if x <= t]
        if before:
            start[u] = before[-1]
    hub = sorted(mono - start[u] for u, _, mono in recs if u in start)
    return lat, hub or None


class FlushProbe:
    """Times iocd's hub_flush calls (CLOCK_MONOTONIC, ms) with a perf uprobe, if perf can. The
    hub part of the latency starts there: after the engine's tick has published the update."""

    EVENT = "probe_iocd:hub_flush"

    def __init__(self, pid, binary):
        self.out = tempfile.mktemp(prefix="iocd-bench-perf-", suffix=".data")
        self.proc = None
        subprocess.run(["perf", "probe", "-q", "-d", self.EVENT], capture_output=True)
        if subprocess.run(["perf", "probe", "-q", "-x", binary, "--add", "hub_flush"],
                          capture_output=True).returncode:
            return
        self.proc = subprocess.Popen(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", self.EVENT,
                                      "-p", str(pid), "-o", self.out],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # perf attaches

    def finish(self):
        """Stops recording; returns the sorted flush times in ms, or None without perf."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        out = subprocess.run(["perf", "script", "-F", "time", "-i", self.out], capture_output=True,
                             text=True).stdout
        subprocess.run(["perf", "probe", "-q", "-d", self.EVENT], capture_output=True)
        if os.path.exists(self.out):
            os.unlink(self.out)
        times = sorted(float(t.strip().rstrip(":")) * 1000.0 for t in out.split() if t.strip())
        return times or None


def figures(pg, build, quick, sizes=None, hubs=("floor", "node", "iocd")):
    """Runs the fan-out comparison. Returns (rows for the table, figures)."""
    limit = raise_nofile()
    sizes = sizes or ([1000] if quick else [1000, 5000, 10000])
    sizes = [n for n in sizes if n + 200 <= limit]
    updates = 20 if quick else 30
    rows, results = [], {}
    for n in sizes:
        for kind in hubs:
            r = run_one(kind, build, pg, n, updates)
            lat = r["lat_ms"]
            ok = int(r["receipts"]) == int(r["expected"]) and int(r["clients_ready"]) == n
            row = {
                "hub": kind, "clients": n, "ready": int(r["clients_ready"]),
                "receipts": f"{r['receipts']}/{n * updates}",
                "p50": percentile(lat, 0.5) if lat else float("nan"),
                "p99": percentile(lat, 0.99) if lat else float("nan"),
                "cpu_ms": r["cpu_s"] * 1000 / updates,
                "kb_per_client": (r["rss1_kb"] - r["rss0_kb"]) / n,
                "ok": ok,
            }
            row["burst_ms"] = float(r["burst_p50_ms"]) if "burst_p50_ms" in r else None
            row["client_cpu_ms"] = float(r["client_cpu_s"]) * 1000 / updates
            hub_lat = r["hub_ms"]
            row["hub_p50"] = percentile(hub_lat, 0.5) if hub_lat else None
            row["hub_p99"] = percentile(hub_lat, 0.99) if hub_lat else None
            rows.append(row)
            results[(kind, n)] = row
    if set(hubs) != {"floor", "node", "iocd"}:
        return rows, []  # a partial run (ws_bench.py --hubs): the table only
    top = max(n for n in sizes if results[("iocd", n)]["ok"]) if any(
        results[("iocd", n)]["ok"] for n in sizes) else sizes[0]
    io, node, floor = results[("iocd", top)], results[("node", top)], results[("floor", top)]
    figs = [
        ("ws_clients", f"{top}", "largest client count with every update delivered to every client"),
        ("ws_p50_ms", f"{io['p50']:.1f}", "iocd: write request sent -> client receipt (engine tick included)"),
        ("ws_p99_ms", f"{io['p99']:.1f}", "same, p99"),
        ("ws_node_p99_ms", f"{node['p99']:.1f}", "Node ws hub: feeder frame sent -> receipt"),
        ("ws_floor_p99_ms", f"{floor['p99']:.1f}", "plain write() floor: feeder frame sent -> receipt"),
        ("ws_p99_vs_node", f"{io['p99'] / node['p99']:.2f}", "ratio (goal <= 1)"),
        ("ws_p99_vs_floor", f"{io['p99'] / floor['p99']:.2f}", "ratio (goal <= 1.2)"),
        ("ws_hub_p50_ms", fmt(io["hub_p50"]), "iocd hub part: hub_flush (perf uprobe) -> client receipt"),
        ("ws_hub_p99_ms", fmt(io["hub_p99"]), "same, p99"),
        ("ws_hub_p99_vs_node", fmt(io["hub_p99"] and io["hub_p99"] / node["p99"], 2), "fan-out alone vs Node (goal <= 1)"),
        ("ws_hub_p99_vs_floor", fmt(io["hub_p99"] and io["hub_p99"] / floor["p99"], 2), "fan-out alone vs floor (goal <= 1.2)"),
        ("ws_floor_burst_ms", fmt(floor["burst_ms"]), "floor's own write() loop per update, p50: the "
         "load client keeps up if receipts end near it"),
        ("ws_client_cpu_ms", fmt(io["client_cpu_ms"]), "load client CPU per update (iocd run), vs "
         f"{io['cpu_ms']:.1f} ms of iocd's"),
        ("ws_kb_per_client", f"{io['kb_per_client']:.1f}", "iocd RSS growth per idle subscribed client (goal <= 4)"),
        ("ws_node_kb_per_client", f"{node['kb_per_client']:.1f}", "Node hub, same measure"),
    ]
    return rows, figs


def print_rows(rows):
    print(f"{'hub':<6} {'clients':>7} {'ready':>6} {'receipts':>14} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'hub p50':>8} {'hub p99':>8} {'cpu ms/upd':>10} {'KB/client':>9}")
    for r in rows:
        print(f"{r['hub']:<6} {r['clients']:>7} {r['ready']:>6} {r['receipts']:>14} {r['p50']:>8.1f} "
              f"{r['p99']:>8.1f} {fmt(r['hub_p50']):>8} {fmt(r['hub_p99']):>8} {r['cpu_ms']:>10.1f} {r['kb_per_client']:>9.1f}")


def main():
    import argparse
    from harness import Pg
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--clients", type=int, action="append", help="client counts (default 1k, 5k, 10k)")
    ap.add_argument("--hubs", default="floor,node,iocd")
    ap.add_argument("--build", default=os.environ.get("IOCD_BUILD_DIR", os.path.join(HERE, "..", "..", "build")))
    args = ap.parse_args()
    harness.IOCD_BIN = os.path.join(args.build, "iocd")
    pg = Pg(tempfile.mkdtemp(prefix="iocd-bench-pg-"))
    pg.start()
    try:
        rows, figs = figures(pg, args.build, args.quick, args.clients, args.hubs.split(','))
    finally:
        pg.stop()
    print_rows(rows)
    for name, value, note in figs:
        print(f"{name}={value}  # {note}")


if __name__ == "__main__":
    main()
