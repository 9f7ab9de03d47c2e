"""Test harness: a real iocd process, a real PostgreSQL cluster, and HTTP helpers (stdlib only)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("IOCD_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IOCD_BIN = os.environ.get("IOCD_BIN", os.path.join(SOURCE_DIR, "build", "iocd"))
IOCCTL_BIN = os.environ.get("IOCCTL_BIN", os.path.join(SOURCE_DIR, "build", "iocctl"))
PGTEST = os.path.join(SOURCE_DIR, "tests", "pgtest.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.1):
    """Polls pred() until it returns a truthy value; fails the test after timeout seconds."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # the thing may not be up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Pg:
    """A throwaway PostgreSQL cluster (tests/pgtest.sh) that a test may stop and restart."""

    def __init__(self, root, port=None):
        self.dir = os.path.join(root, "pg")
        self.port = port or free_port()
        self.dsn = f"host={self.dir}/run port={self.port} user=postgres dbname=postgres"

    def start(self):
        subprocess.run(["sh", PGTEST, "start", self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run(["sh", PGTEST, "stop", self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL)

    def create_db(self, name):
        self.sql(f'DROP DATABASE IF EXISTS "{name}"', db="postgres")
        self.sql(f'CREATE DATABASE "{name}"', db="postgres")
        return f"host={self.dir}/run port={self.port} user=postgres dbname={name}"

    def sql(self, query, db="postgres", dsn=None):
        """Runs one statement with psql; returns rows as lists of strings."""
        dsn = dsn or f"host={self.dir}/run port={self.port} user=postgres dbname={db}"
        return psql(dsn, query)


def psql(dsn, query):
    out = subprocess.run(["psql", dsn, "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class Iocd:
    """One iocd process with a config written from a dict into its own temporary directory."""

    def __init__(self, config, root=None, env=None):
        self.root = root or tempfile.mkdtemp(prefix="iocd-it-")
        os.chmod(self.root, 0o755)  # the embedded cluster runs as postgres and must reach state_dir
        self.port = free_port()
        self.config = dict(config)
        self.config.setdefault("state_dir", os.path.join(self.root, "state"))
        self.config.setdefault("http", {"listen": f"127.0.0.1:{self.port}"})
        self.config_path = os.path.join(self.root, "iocd.json")
        self.write_config()
        self.env = dict(os.environ)
        self.env.pop("IOCD_DATABASE_DSN", None)
        self.env.update(env or {})
        self.proc = None
        self.cwd = None  # working directory of the daemon (relative paths in the config)
        self.log_path = os.path.join(self.root, "iocd.log")

    def write_config(self, config=None):
        if config is not None:
            self.config = config
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(self.config, f, ensure_ascii=False, indent=2)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_db=True, timeout=60):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([IOCD_BIN, "--config", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        wait_for(lambda: self.health() is not None, timeout, "iocd to answer /healthz")
        if wait_db:
            wait_for(lambda: self.health().get("db") == "up", timeout, "iocd to reach its database")
        return self

    def health(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"iocd exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
        try:
            status, body, _ = self.request("GET", "/healthz")
        except OSError:
            return None
        return json.loads(body)

    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def metrics(self):
        status, body, _ = self.request("GET", "/metrics")
        check(status == 200, f"/metrics answered {status}")
        values = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"iocd did not stop within {timeout}s after SIGTERM")
        self.log.close()
        return self.proc.returncode

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def writer_token_config():
    """An auth section with one writer token; returns (auth_config, token)."""
    import hashlib
    token = "test-writer-" + os.urandom(8).hex()
    return {"tokens": [{"name": "test", "role": "writer",
                        "sha256": hashlib.sha256(token.encode()).hexdigest()}]}, token


def run(tests):
    """Runs test functions in order, printing each; exits 1 on the first failure."""
    import sys
    import traceback
    for t in tests:
        started = time.time()
        print(f"-- {t.__name__}", flush=True)
        try:
            t()
        except Exception:
            traceback.print_exc()
            print(f"FAIL {t.__name__}", flush=True)
            sys.exit(1)
        print(f"ok   {t.__name__} ({time.time() - started:.1f}s)", flush=True)
