"""The command line: --version, --help, --check-config with positioned errors, bad plugins."""
import json
import os
import subprocess
import tempfile

from harness import IOCD_BIN, SOURCE_DIR, check, run

PLUGIN_DIR = os.environ.get("IOCD_PLUGIN_DIR", "")
TEST_PLUGIN_DIR = os.environ.get("IOCD_TEST_PLUGIN_DIR", "")


def iocd(*args):
    return subprocess.run([IOCD_BIN, *args], capture_output=True, text=True, timeout=60)


def write(text):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def test_version_and_help():
    out = iocd("--version")
    check(out.returncode == 0 and out.stdout.startswith("iocd "), out.stdout)
    out = iocd("--help")
    check(out.returncode == 0 and "--check-config" in out.stdout, out.stdout)
    check(iocd().returncode != 0, "no arguments must fail")


def test_check_config_good():
    for name in ("demo.json", "iocd.example.jsonc"):
        path = os.path.join(SOURCE_DIR, "config", name)
        out = iocd("--check-config", "--config", path)
        check(out.returncode == 0, f"{name}: {out.stderr}")


def test_check_config_errors_name_the_place():
    path = write('{\n  "state_dir": "/tmp/x",\n  "htpp": {}\n}\n')
    out = iocd("--check-config", "--config", path)
    check(out.returncode != 0, "typo accepted")
    check(out.stderr.startswith(f"{path}:3:3: htpp:"), f"got: {out.stderr!r}")
    path = write('{"collectors": [\n  {"plugin": "simulator", "name": "a"},\n'
                 '  {"plugin": "simulator", "name": "b", "interval": 5}\n]}\n')
    out = iocd("--check-config", "--config", path)
    check(out.returncode != 0 and f"{path}:3:" in out.stderr and "collectors[1].interval" in out.stderr,
          f"got: {out.stderr!r}")
    path = write('{"collectors": [{"plugin": "simulator", "name": "a", "colour": "red"}]}')
    out = iocd("--check-config", "--config", path)
    check(out.returncode != 0 and "colour" in out.stderr and f"{path}:1:" in out.stderr,
          f"plugin option error: {out.stderr!r}")


def test_missing_and_foreign_plugins():
    path = write(json.dumps({"collectors": [{"plugin": "nosuch", "name": "x"}]}))
    out = iocd("--check-config", "--config", path)
    check(out.returncode != 0 and "nosuch.so" in out.stderr and "no such plugin" in out.stderr,
          out.stderr)
    if TEST_PLUGIN_DIR:
        path = write(json.dumps({"plugin_dir": TEST_PLUGIN_DIR,
                                 "collectors": [{"plugin": "abi99", "name": "x"}]}))
        out = iocd("--check-config", "--config", path)
        check(out.returncode != 0 and "abi99.so" in out.stderr and "version 99" in out.stderr
              and "version 1" in out.stderr, out.stderr)
        path = write(json.dumps({"plugin_dir": TEST_PLUGIN_DIR,
                                 "collectors": [{"plugin": "nosymbol", "name": "x"}]}))
        out = iocd("--check-config", "--config", path)
        check(out.returncode != 0 and "nosymbol.so" in out.stderr and "ioc_collector" in out.stderr,
              out.stderr)


if __name__ == "__main__":
    run([test_version_and_help, test_check_config_good, test_check_config_errors_name_the_place,
         test_missing_and_foreign_plugins])
