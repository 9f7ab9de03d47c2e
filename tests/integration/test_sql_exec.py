"""sql and exec against real peers: the real iocd queries a second database (a service portal
with Vietnamese district names) and runs real scripts that print line protocol; samples land in
samples_view with their tags and times; a failing query, a killed session, bad lines, a failing
command and a sleeper killed at its timeout are counted on /metrics while the rest keeps
flowing."""
import json
import os
import stat
import subprocess
import tempfile

from harness import Iocd, check, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def script(directory, name, body):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def counter(m, name, collector, plugin, result=None):
    labels = f'collector="{collector}",plugin="{plugin}"' + (f',result="{result}"' if result else "")
    return m.get(f"iocd_collector_{name}{{{labels}}}", 0)


def test_sql_and_exec():
    dsn = fresh_db("it_sql_exec")
    src = fresh_db("it_sql_src")
    psql(src, "CREATE TABLE dossiers (district text, received int, updated timestamptz);"
              "INSERT INTO dossiers VALUES ('Tân An', 12, '2024-03-12 08:30:00+07'),"
              " ('Bến Lức', 30, '2024-03-12 09:00:00+07'), ('Đức Hòa', NULL, NULL)")
    tmp = tempfile.mkdtemp(prefix="iocd-it-exec-")
    os.chmod(tmp, 0o755)
    good = script(tmp, "ups.sh", "echo 'ups,site=Tân\\ An load=0.42,on_battery=f 1710207000000000000'\n"
                                 "echo 'ups,site=Tân\\ An bad=' \n"
                                 "echo 'warming up' >&2")
    failing = script(tmp, "fail.sh", "echo 'the vendor API said no' >&2; exit 2")
    sleeper = script(tmp, "sleeper.sh", "sleep 30")
    d = Iocd({"database": {"dsn": dsn}, "ingest": {"batch_max_delay": "50ms"}, "collectors": [
        {"plugin": "sql", "name": "portal", "interval": "300ms", "dsn": src, "reconnect": "200ms",
         "query": "SELECT district, received, updated FROM dossiers",
         "metric": "portal.received", "value": "received", "time": "updated",
         "tags": ["district"]},
        {"plugin": "sql", "name": "broken_query", "interval": "200ms", "dsn": src,
         "query": "SELECT n FROM no_such_table", "metric": "x"},
        {"plugin": "exec", "name": "ups", "interval": "300ms", "command": [good]},
        {"plugin": "exec", "name": "failing", "interval": "200ms", "command": [failing]},
        {"plugin": "exec", "name": "sleeper", "interval": "500ms", "timeout": "400ms",
         "command": [sleeper]},
    ]})
    try:
        d.start()
        wait_for(lambda: psql(dsn, "SELECT count(DISTINCT tags->>'district') FROM samples_view "
                                   "WHERE metric = 'portal.received'")[0][0] == "2",
                 30, "portal.received for two districts")
        rows = psql(dsn, "SELECT DISTINCT tags->>'district', value, extract(epoch FROM ts)::bigint "
                         "FROM samples_view WHERE metric = 'portal.received' ORDER BY 1")
        check(rows == [["Bến Lức", "30", "1710208800"], ["Tân An", "12", "1710207000"]],
              f"portal rows (NULL value row skipped): {rows}")
        wait_for(lambda: psql(dsn, "SELECT count(*) FROM samples_view WHERE metric LIKE 'ups.%'")[0][0]
                 != "0", 30, "ups samples")
        rows = psql(dsn, "SELECT DISTINCT metric, tags, value, extract(epoch FROM ts)::bigint "
                         "FROM samples_view WHERE metric LIKE 'ups.%' ORDER BY 1")
        check(len(rows) == 2 and rows[0][0] == "ups.load" and rows[1][0] == "ups.on_battery",
              f"ups metrics {rows}")
        check(json.loads(rows[0][1]) == {"site": "Tân An"} and float(rows[0][2]) == 0.42 and
              rows[0][3] == "1710207000", f"ups.load {rows[0]}")
        check(float(rows[1][2]) == 0, f"on_battery false -> 0: {rows[1]}")

        # The source database ends the session: reported, then the collector reconnects.
        before = psql(dsn, "SELECT count(*) FROM samples_view WHERE metric = 'portal.received'")[0][0]
        psql(BASE_DSN, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = 'iocd-sql-portal'")
        wait_for(lambda: "event=db_error" in d.logs(), 10, "the lost session to be logged")
        wait_for(lambda: int(psql(dsn, "SELECT count(*) FROM samples_view "
                                       "WHERE metric = 'portal.received'")[0][0]) > int(before) + 4,
                 20, "portal samples after the reconnect")
        wait_for(lambda: psql(BASE_DSN, "SELECT count(*) FROM pg_stat_activity "
                                        "WHERE application_name = 'iocd-sql-portal'")[0][0] == "1",
                 10, "one session again")

        m = wait_for(lambda: (lambda m: m if counter(m, "collections_total", "sleeper", "exec",
                                                     "timeout") + counter(
            m, "collections_total", "sleeper", "exec", "error") >= 2 else None)(d.metrics()),
            30, "the sleeper's timeouts counted")
        check(counter(m, "up", "portal", "sql") == 1, "portal not up")
        check(counter(m, "up", "ups", "exec") == 1, "ups not up (bad lines with good ones are ok)")
        for name, plugin in (("broken_query", "sql"), ("failing", "exec"), ("sleeper", "exec")):
            check(counter(m, "up", name, plugin) == 0, f"{name} is up")
            check(counter(m, "collections_total", name, plugin, "error") >= 1,
                  f"{name}'s errors not counted: {m}")
        logs = d.logs()
        for needle in ("relation 'no_such_table' does not exist", "event=bad_lines",
                       "line=\"the vendor API said no\"", "detail=\"exit status 2\"",
                       "did not finish within its timeout: killed", "line=\"warming up\""):
            check(needle in logs, f"not logged: {needle}")
        check("password" not in logs, "a password in the logs")
        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
        left = subprocess.run(["pgrep", "-f", sleeper], capture_output=True, text=True).stdout
        check(left == "", f"a sleeper outlived iocd: {left}")
    finally:
        d.cleanup()
        psql(BASE_DSN, 'DROP DATABASE IF EXISTS "it_sql_src" WITH (FORCE)')


if __name__ == "__main__":
    run([test_sql_and_exec])
