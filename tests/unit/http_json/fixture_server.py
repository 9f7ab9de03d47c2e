"""A local HTTP server for the http_json plugin tests: serves $IOCD_FIXTURES/fiware and a few
misbehaving endpoints. Prints its port on the first line of stdout, then serves until killed."""
import base64
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        auth = self.headers.get("Authorization", "")
        if path.startswith("/fiware/"):
            rel = os.path.normpath(path[len("/fiware/"):])
            full = os.path.join(FIXTURES, "fiware", rel)
            if rel.startswith("..") or not os.path.isfile(full):
                return self.send(404, '{"error": "NotFound"}')
            with open(full, "rb") as f:
                return self.send(200, f.read())
        if path.startswith("/status/"):
            return self.send(int(path[len("/status/"):]), "{}")
        if path == "/slow":
            time.sleep(3)
            return self.send(200, "[]")
        if path == "/garbage":
            return self.send(200, "<html>not json</html>", "text/html")
        if path == "/big":
            return self.send(200, "[" + "1," * 50000 + "1]")
        if path == "/ones":
            return self.send(200, "[" + "1," * 300 + "1]")
        if path == "/auth/basic":
            ok = auth == "Basic " + base64.b64encode(b"ioc:s3cret").decode()
            return self.send(200 if ok else 401, '{"v": 1}')
        if path == "/auth/bearer":
            return self.send(200 if auth == "Bearer t0k3n" else 401, '{"v": 2}')
        if path == "/headers":
            ok = (self.headers.get("Fiware-Service") == "longan"
                  and "application/json" in self.headers.get("Accept", ""))
            return self.send(200 if ok else 400, '{"v": 3}')
        return self.send(404, "{}")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
