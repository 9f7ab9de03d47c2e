"""Nothing acknowledged is lost: PostgreSQL stopped for 30 s under load and restarted; iocd started
while the database is unreachable; a corrupt spool tail at start."""
import os
import tempfile
import threading
import time

from harness import Iocd, Pg, check, psql, run, wait_for, writer_token_config

OUTAGE_SECONDS = int(os.environ.get("IOCD_OUTAGE_SECONDS", "30"))


class Loader(threading.Thread):
    """Writes numbered lines continuously; remembers which batches got 204."""

    def __init__(self, d, token, metric):
        super().__init__(daemon=True)
        self.d, self.token, self.metric = d, token, metric
        self.acked, self.failed, self.stop_flag, self.n = [], [], False, 0

    def run(self):
        while not self.stop_flag:
            i = self.n
            self.n += 1
            body = "".join(f"{self.metric},batch={i} value={j}\n" for j in range(200)).encode()
            try:
                status, resp, _ = self.d.request("POST", "/api/v1/write", body,
                                                 {"Authorization": f"Bearer {self.token}"})
            except OSError as e:
                status, resp = -1, str(e).encode()
            (self.acked if status == 204 else self.failed).append((i, status, resp))
            time.sleep(0.02)


def per_batch_counts(dsn, metric):
    rows = psql(dsn, f"SELECT tags->>'batch', count(*) FROM samples_view WHERE metric = '{metric}' "
                     "GROUP BY 1")
    return {int(b): int(c) for b, c in rows}


def test_outage_under_load():
    root = tempfile.mkdtemp(prefix="iocd-outage-")
    pg = Pg(root)
    pg.start()
    dsn = pg.create_db("iocd")
    auth, token = writer_token_config()
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "ingest": {"batch_max_delay": "50ms"},
              "collectors": [{"plugin": "simulator", "name": "city", "interval": "1s"}]}, root=root)
    try:
        d.start()
        load = Loader(d, token, "outage")
        load.start()
        time.sleep(3)
        pg.stop()
        wait_for(lambda: d.health()["db"] == "down", 20, "/healthz to say db down")
        time.sleep(OUTAGE_SECONDS)
        h = d.health()
        check(h["status"] == "degraded" and h["spool_bytes"] > 0, f"health during outage: {h}")
        acked_during = len(load.acked)
        pg.start()
        wait_for(lambda: d.health()["db"] == "up", 60, "reconnect")
        time.sleep(3)
        load.stop_flag = True
        load.join()
        wait_for(lambda: d.health()["spool_bytes"] == 0, 120, "spool replayed")
        check(acked_during > 10, f"only {acked_during} writes acknowledged during the outage")
        check(d.stop() == 0, "exit code")
        counts = per_batch_counts(dsn, "outage")
        for i, _, _ in load.acked:
            check(counts.get(i) == 200, f"acknowledged batch {i}: {counts.get(i)} rows, want 200")
        dup = psql(dsn, "SELECT count(*) FROM (SELECT series_id, ts, value FROM samples "
                        "GROUP BY 1,2,3 HAVING count(*) > 1) x")[0][0]
        check(dup == "0", f"{dup} duplicated samples after replay")
        m_sim = int(psql(dsn, "SELECT count(*) FROM samples_view WHERE metric LIKE 'traffic.%'")[0][0])
        check(m_sim > 0, "simulator samples missing")
        print(f"acked={len(load.acked)} refused={len(load.failed)} during_outage={acked_during}")
    finally:
        d.cleanup()
        pg.stop()


def test_start_with_database_down():
    root = tempfile.mkdtemp(prefix="iocd-nodb-")
    pg = Pg(root)
    auth, token = writer_token_config()
    d = Iocd({"database": {"dsn": pg.dsn.replace("dbname=postgres", "dbname=iocd")}, "auth": auth,
              "ingest": {"batch_max_delay": "50ms"}}, root=root)
    try:
        d.start(wait_db=False)
        h = d.health()
        check(h["db"] == "down" and h["status"] == "degraded", f"health: {h}")
        status, resp, _ = d.request("POST", "/api/v1/write", b"nodb value=1\nnodb value=2\n",
                                    {"Authorization": f"Bearer {token}"})
        check(status == 204, f"write while db down: {status} {resp!r} (must be spooled)")
        check(d.health()["spool_bytes"] > 0, "nothing spooled")
        pg.start()
        pg.create_db("iocd")
        wait_for(lambda: d.health()["spool_bytes"] == 0 and d.health()["db"] == "up", 60,
                 "replay after the database came up")
        check(psql(pg.dsn.replace("dbname=postgres", "dbname=iocd"),
                   "SELECT count(*) FROM samples_view WHERE metric='nodb'")[0][0] == "2", "rows")
    finally:
        d.stop()
        d.cleanup()
        pg.stop()


def test_torn_spool_tail_is_cut_and_the_rest_replayed():
    root = tempfile.mkdtemp(prefix="iocd-torn-")
    os.chmod(root, 0o755)
    pg = Pg(root)
    auth, token = writer_token_config()
    dsn = pg.dsn.replace("dbname=postgres", "dbname=iocd")
    d = Iocd({"database": {"dsn": dsn}, "auth": auth, "ingest": {"batch_max_delay": "20ms"}},
             root=root)
    try:
        d.start(wait_db=False)
        for i in range(3):
            status, resp, _ = d.request("POST", "/api/v1/write", f"torn,i={i} value={i}\n".encode(),
                                        {"Authorization": f"Bearer {token}"})
            check(status == 204, f"write {i}: {status} {resp!r}")
        check(d.stop() == 0, "exit code")
        spool = os.path.join(d.config["state_dir"], "spool")
        segs = sorted(f for f in os.listdir(spool) if f.startswith("seg-"))
        check(segs, f"no spool segment in {os.listdir(spool)}")
        with open(os.path.join(spool, segs[-1]), "ab") as f:
            f.write(b"SPL1\x40\x00\x00\x00half a record, as a power cut leaves it")
        d.start(wait_db=False)
        m = d.metrics()
        check(m["iocd_spool_corrupt_cuts_total"] == 1, f"cuts: {m['iocd_spool_corrupt_cuts_total']}")
        check(m["iocd_spool_records"] == 3, f"records kept: {m['iocd_spool_records']}")
        pg.start()
        pg.create_db("iocd")
        wait_for(lambda: d.health()["spool_bytes"] == 0 and d.health()["db"] == "up", 60, "replay")
        rows = psql(dsn, "SELECT tags->>'i', value FROM samples_view WHERE metric='torn' ORDER BY 1")
        check(rows == [["0", "0"], ["1", "1"], ["2", "2"]], f"rows after replay: {rows}")
    finally:
        d.stop()
        d.cleanup()
        pg.stop()


if __name__ == "__main__":
    run([test_start_with_database_down, test_torn_spool_tail_is_cut_and_the_rest_replayed,
         test_outage_under_load])
