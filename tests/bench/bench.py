"""tests/bench/run's driver: ingest, WebSocket fan-out, engine and export benchmarks in one run
against one throwaway PostgreSQL. Prints the fan-out detail, a table of every figure, then one
name=value line per figure. A section that cannot run prints its figures as n/a with the reason."""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import export_bench  # noqa: E402
import ingest_bench  # noqa: E402
import ws_bench  # noqa: E402

SECTIONS = {
    "ingest": ["ingest_samples_per_s", "copy_rows_per_s", "ingest_vs_copy"],
    "ws": ["ws_clients", "ws_p50_ms", "ws_p99_ms", "ws_p99_vs_node", "ws_p99_vs_floor", "ws_kb_per_client"],
    "engine": ["engine_ns_per_sample"],
    "export": ["export_rows_per_s", "export_peak_rss_mb"],
}


def engine_figures(build, quick):
    out = subprocess.run([os.path.join(build, "tests", "engine_bench")] + (["--quick"] if quick else []),
                         check=True, capture_output=True, text=True).stdout
    kv = ws_bench.parse_kv(out)
    return [
        ("engine_ns_per_sample", kv["engine_ns_per_sample"], "100k live series, feed order (goal <= 50)"),
        ("engine_ns_per_sample_random", kv["engine_ns_per_sample_random"], "same, random order (cache misses)"),
        ("engine_tick_ms", kv["engine_tick_ms"], "one tick over 100k series' indicators"),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1k clients, fewer rows (under 5 minutes)")
    ap.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only these sections")
    ap.add_argument("--build", default=os.environ.get("IOCD_BUILD_DIR", os.path.join(HERE, "..", "..", "build")))
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    harness.IOCD_BIN = os.path.join(build, "iocd")
    sections = args.only or list(SECTIONS)
    started = time.time()
    figs = []
    pg = harness.Pg(tempfile.mkdtemp(prefix="iocd-bench-pg-"))
    pg.start()
    try:
        for name in sections:
            t0 = time.time()
            try:
                if name == "ingest":
                    figs += ingest_bench.figures(pg, args.quick)
                elif name == "ws":
                    rows, f = ws_bench.figures(pg, build, args.quick)
                    ws_bench.print_rows(rows)
                    print()
                    figs += f
                elif name == "engine":
                    figs += engine_figures(build, args.quick)
                else:
                    figs += export_bench.figures(pg, build, args.quick)
            except Exception as e:  # a broken section must not hide the others' figures
                traceback.print_exc()
                why = f"{type(e).__name__}: {e}".splitlines()[0][:120]
                figs += [(f, "n/a", f"{name} failed: {why}") for f in SECTIONS[name]]
            print(f"# {name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        pg.stop()
    print(f"{'figure':<28} {'value':>12}  note")
    for name, value, note in figs:
        print(f"{name:<28} {value:>12}  {note}")
    print(f"# {'quick' if args.quick else 'full'} run, {time.time() - started:.0f} s, nproc {os.cpu_count()}")
    for name, value, _ in figs:
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
