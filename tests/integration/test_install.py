"""`cmake --install` lays out binaries, plugins, dashboards, config, the ABI header and a systemd
unit, and the installed iocd finds its plugins and dashboards without being told."""
import os
import subprocess
import tempfile

from harness import Iocd, check, psql, run, wait_for

BUILD = os.environ["IOCD_BUILD_DIR"]
BASE_DSN = os.environ["IOCD_TEST_DSN"]


def test_installed_tree_runs():
    prefix = tempfile.mkdtemp(prefix="iocd-install-")
    subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                   stdout=subprocess.DEVNULL)
    for rel in ("bin/iocd", "bin/iocctl", "lib/iocd/collectors/simulator.so",
                "share/iocd/config/demo.json", "share/iocd/config/README.md",
                "include/ioc/collector.h", "lib/systemd/system/iocd.service"):
        check(os.path.exists(os.path.join(prefix, rel)), f"{rel} not installed")
    check(os.path.isdir(os.path.join(prefix, "share/iocd/dashboards")), "dashboards not installed")
    unit = open(os.path.join(prefix, "lib/systemd/system/iocd.service")).read()
    check(f"ExecStart={prefix}/bin/iocd --config" in unit, f"unit ExecStart: {unit}")

    psql(BASE_DSN, 'DROP DATABASE IF EXISTS "it_install" WITH (FORCE)')
    psql(BASE_DSN, 'CREATE DATABASE "it_install"')
    dsn = BASE_DSN.replace("dbname=postgres", "dbname=it_install")
    os.environ["IOCD_BIN"] = os.path.join(prefix, "bin/iocd")
    import harness
    harness.IOCD_BIN = os.environ["IOCD_BIN"]
    d = Iocd({"database": {"dsn": dsn},
              "collectors": [{"plugin": "simulator", "name": "city", "interval": "500ms"}]})
    try:
        d.start()
        wait_for(lambda: int(psql(dsn, "SELECT count(*) FROM samples_view")[0][0]) > 0, 20,
                 "samples from the installed simulator plugin")
        check(f"{prefix}/bin/../share/iocd/dashboards" in d.logs(), "installed dashboards not used")
        check(d.stop() == 0, "exit code")
    finally:
        d.cleanup()
        subprocess.run(["rm", "-rf", prefix], check=False)


if __name__ == "__main__":
    run([test_installed_tree_runs])
