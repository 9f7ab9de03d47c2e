"""TLS: iocd serves HTTPS with the configured certificate, HTTP/1.1 only; plain HTTP on the port
gets a redirect to https when asked for, and never the content."""
import http.client
import os
import socket
import ssl
import subprocess
import tempfile

from harness import Iocd, check, run

BASE_DSN = os.environ["IOCD_TEST_DSN"]


def make_cert(root):
    cert, key = os.path.join(root, "cert.pem"), os.path.join(root, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def plain_get(port):
    """Sends a plain-HTTP request; returns (status, location) or (None, None) if refused."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        body = r.read()
        return r.status, r.getheader("location"), body
    except (OSError, http.client.HTTPException):
        return None, None, b""


def start(redirect):
    root = tempfile.mkdtemp(prefix="iocd-tls-")
    os.chmod(root, 0o755)
    cert, key = make_cert(root)
    d = Iocd({"database": {"dsn": BASE_DSN}}, root=root)
    d.config["http"]["tls"] = {"cert": cert, "key": key, "redirect_http": redirect}
    d.write_config()
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen([os.environ["IOCD_BIN"], "--config", d.config_path], stdout=d.log,
                              stderr=subprocess.STDOUT, env=d.env)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    import time
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", d.port), timeout=2) as s, \
                    ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return d, ctx, t.selected_alpn_protocol()
        except OSError:
            time.sleep(0.1)
    raise AssertionError("iocd did not come up with TLS:\n" + d.logs())


def test_https_served_http11_only():
    d, ctx, alpn = start(redirect=False)
    try:
        check(alpn in (None, "http/1.1"), f"ALPN chose {alpn}: h2 must never be offered")
        c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        check(r.status in (200, 503) and b'"db"' in r.read(), f"https /healthz: {r.status}")
        check(r.getheader("x-content-type-options") == "nosniff", "security headers missing")
        status, _, body = plain_get(d.port)
        check(status is None or (status >= 400 and b'"db"' not in body),
              f"plain HTTP got {status} {body[:80]!r}")
    finally:
        d.stop()
        d.cleanup()


def test_plain_http_redirected():
    d, ctx, _ = start(redirect=True)
    try:
        status, location, body = plain_get(d.port)
        check(status in (301, 302, 307, 308), f"plain HTTP: {status}")
        check(location and location.startswith("https://"), f"Location: {location}")
        check(b'"db"' not in body, "plain HTTP got the content")
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    run([test_https_served_http11_only, test_plain_http_redirected])
