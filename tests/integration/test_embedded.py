"""The embedded default: no DSN, iocd runs its own cluster under state_dir (as postgres when
root), Unix socket only, and stops it when it stops; data survives a restart."""
import os
import subprocess

from harness import Iocd, check, psql, run, wait_for


def test_embedded_cluster():
    d = Iocd({"collectors": [{"plugin": "simulator", "name": "city", "interval": "500ms"}]})
    try:
        d.start(timeout=120)
        run_dir = os.path.join(d.config["state_dir"], "pg", "run")
        dsn = f"host={run_dir} port=5432 user=postgres dbname=iocd"
        wait_for(lambda: int(psql(dsn, "SELECT count(*) FROM samples_view")[0][0]) > 100, 30,
                 "simulator samples in the embedded database")
        tcp = psql(dsn, "SELECT current_setting('listen_addresses') <> ''")[0][0]
        check(tcp == "f", "the embedded cluster listens on TCP")
        if os.geteuid() == 0:
            owner = psql(dsn, "SELECT pg_catalog.current_setting('data_directory')")[0][0]
            st = os.stat(owner)
            import pwd
            check(pwd.getpwuid(st.st_uid).pw_name == "postgres", "cluster not owned by postgres")
        check(d.stop() == 0, "exit code")
        pid_file = os.path.join(d.config["state_dir"], "pg", "data", "postmaster.pid")
        check(not os.path.exists(pid_file), "embedded cluster still running after iocd stopped")
        before = None
        d.start(timeout=120)
        before = int(psql(dsn, "SELECT count(*) FROM samples_view")[0][0])
        check(before > 100, "data lost across restart")
        check(d.stop() == 0, "exit code after restart")
    finally:
        d.cleanup()
        subprocess.run(["pkill", "-f", d.root], check=False)


def test_relative_state_dir_as_in_the_demo():
    """config/demo.json says "state_dir": "./state": the cluster must start from any cwd."""
    d = Iocd({"state_dir": "./state",
              "collectors": [{"plugin": "simulator", "name": "city", "interval": "500ms"}]})
    d.cwd = d.root
    try:
        d.start(timeout=120)
        dsn = f"host={d.root}/state/pg/run port=5432 user=postgres dbname=iocd"
        wait_for(lambda: int(psql(dsn, "SELECT count(*) FROM samples_view")[0][0]) > 0, 30,
                 "samples in the embedded database under a relative state_dir")
        check(d.stop() == 0, "exit code")
    finally:
        d.cleanup()


if __name__ == "__main__":
    run([test_embedded_cluster, test_relative_state_dir_as_in_the_demo])
