"""http_json against a real local HTTP server: the real iocd polls a FIWARE-style /v2/entities
built from the smart-data-model fixtures and a vendor JSON API; samples land in samples_view with
the entity id, the observation time and mapped texts; failing and garbage sources are counted on
/metrics while the good ones keep flowing."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Iocd, check, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]
FIXTURES = os.environ.get("IOCD_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                          "shared", "fixtures"))


def fixture(rel):
    with open(os.path.join(FIXTURES, "fiware", rel), encoding="utf-8") as f:
        return json.load(f)


class Source:
    """A local HTTP server thread: /v2/entities (NGSI v2), /vendor (generic JSON), /status/N,
    /garbage. Counts requests per path."""

    def __init__(self):
        self.hits = {}
        self.entities = [fixture("TrafficFlowObserved/example.json"),
                         fixture("Streetlight/example-normalized.json")]
        self.vendor = {"data": [{"sensor": "TA-TS-001", "district": "Tân An", "speed": 41.5,
                                 "ts": 1710207000},
                                {"sensor": "BL-TS-002", "district": "Bến Lức", "speed": "33",
                                 "ts": "2024-03-12T08:30:00+07:00"}]}
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                source.hits[path] = source.hits.get(path, 0) + 1
                code, body = 200, None
                if path == "/v2/entities":
                    ok = self.headers.get("Fiware-Service") == "longan"
                    code, body = (200, source.entities) if ok else (400, {"error": "BadRequest"})
                elif path == "/vendor":
                    ok = self.headers.get("Authorization") == "Bearer v3nd0r"
                    code, body = (200, source.vendor) if ok else (401, {})
                elif path.startswith("/status/"):
                    code, body = int(path[8:]), {}
                elif path == "/garbage":
                    body = "<html>"
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def test_fiware_and_vendor_sources():
    dsn = fresh_db("it_http_json")
    src = Source()
    d = Iocd({"database": {"dsn": dsn}, "ingest": {"batch_max_delay": "50ms"}, "collectors": [
        {"plugin": "http_json", "name": "orion", "interval": "500ms", "format": "ngsi-v2",
         "url": src.url("/v2/entities?options=keyValues"), "headers": {"Fiware-Service": "longan"},
         "value_map": {"powerState": {"on": 1, "off": 0}},
         "tags": {"district": "/municipalityInfo/district"}},
        {"plugin": "http_json", "name": "vendor", "interval": "500ms", "url": src.url("/vendor"),
         "bearer_token": "v3nd0r", "items": "/data", "time": "/ts",
         "metrics": [{"metric": "traffic.speed", "value": "/speed"}],
         "tags": {"id": "/sensor", "district": "/district"}},
        {"plugin": "http_json", "name": "down", "interval": "200ms", "format": "ngsi-v2",
         "url": src.url("/status/503")},
        {"plugin": "http_json", "name": "junk", "interval": "200ms", "format": "ngsi-v2",
         "url": src.url("/garbage")},
    ]})
    try:
        d.start()
        wait_for(lambda: psql(dsn, "SELECT count(DISTINCT metric) FROM samples_view")[0][0] == "17",
                 30, "7 traffic-flow, 9 streetlight and 1 vendor metric in samples_view")
        got = psql(dsn, "SELECT value, extract(epoch FROM ts), tags FROM samples_view "
                        "WHERE metric = 'TrafficFlowObserved.averageVehicleSpeed' LIMIT 1")[0]
        check(float(got[0]) == 52.6, f"speed {got}")
        check(float(got[1]) == 1481109300, f"observation time (end of interval) {got}")
        check(json.loads(got[2]) == {"id": "TrafficFlowObserved-Valladolid-osm-60821110"},
              f"tags {got}")
        got = psql(dsn, "SELECT value, extract(epoch FROM ts), tags->>'district' FROM samples_view "
                        "WHERE metric = 'Streetlight.powerState' LIMIT 1")[0]
        check(float(got[0]) == 0 and float(got[1]) == 1610360462 and got[2] == "Bangalore Urban",
              f"powerState off -> 0 at 2021-01-11T15:51:02+05:30 in Bangalore Urban: {got}")
        vend = psql(dsn, "SELECT DISTINCT tags->>'id', tags->>'district', value, "
                         "extract(epoch FROM ts)::bigint FROM samples_view WHERE metric = 'traffic.speed' ORDER BY 1")
        check(len(vend) == 2, f"one series per vendor sensor, same time each poll: {vend}")
        check(vend[0] == ["BL-TS-002", "Bến Lức", "33", "1710207000"] and
              vend[1] == ["TA-TS-001", "Tân An", "41.5", "1710207000"], f"vendor rows {vend}")
        # Failing and garbage sources are counted, not fatal; the others keep polling.
        m = wait_for(lambda: (lambda m: m if m.get(
            'iocd_collector_collections_total{collector="junk",plugin="http_json",result="error"}',
            0) >= 2 else None)(d.metrics()), 20, "errors counted for the garbage source")
        check(m['iocd_collector_up{collector="orion",plugin="http_json"}'] == 1, "orion not up")
        check(m['iocd_collector_up{collector="down",plugin="http_json"}'] == 0, "down is up")
        check(m['iocd_collector_up{collector="junk",plugin="http_json"}'] == 0, "junk is up")
        check(m['iocd_collector_samples_total{collector="orion",plugin="http_json"}'] >= 16,
              "orion samples not counted")
        polls = src.hits.get("/v2/entities", 0)
        wait_for(lambda: src.hits.get("/v2/entities", 0) >= polls + 2, 10, "orion to keep polling")
        logs = d.logs()
        check("malformed_payload" in logs and "line 1 column 1" in logs,
              "garbage payload not logged with its position")
        check("HTTP status 503" in logs, "failing source not logged with its status")
        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
    finally:
        d.cleanup()
        src.close()


if __name__ == "__main__":
    run([test_fiware_and_vendor_sources])
