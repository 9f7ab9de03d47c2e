"""The mqtt collector in the real iocd against a real mosquitto broker and a real PostgreSQL:
published messages land in samples_view with their named-wildcard tags, bad payloads are counted
and survived, and a broker restart is followed by a reconnect."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile

from harness import Iocd, check, free_port, psql, run, wait_for

BASE_DSN = os.environ["IOCD_TEST_DSN"]
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """A mosquitto broker on 127.0.0.1 with anonymous access, restartable on the same port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="iocd-mqtt-it-")
        os.chmod(self.dir, 0o755)  # mosquitto drops root for its own user and reads the conf
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        os.chmod(self.conf, 0o644)
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=log, stderr=log)
        wait_for(lambda: self._listening(), 10, f"mosquitto on port {self.port}")

    def _listening(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def publish(self, topic, payload):
        """Publishes with QoS 1 (MQTT 3.1.1 by hand) and waits for the broker's PUBACK."""
        def packet(kind, body):
            n, length = len(body), b""
            while True:
                byte, n = n % 128, n // 128
                length += bytes([byte | (0x80 if n else 0)])
                if not n:
                    return bytes([kind]) + length + body
        def utf8(s):
            b = s.encode()
            return struct.pack(">H", len(b)) + b
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(packet(0x10, utf8("MQTT") + b"\x04\x02\x00\x3c" + utf8(f"it-pub-{os.getpid()}")))
            check(s.recv(4) == b"\x20\x02\x00\x00", "broker refused the publisher")
            body = payload if isinstance(payload, bytes) else payload.encode()
            s.sendall(packet(0x32, utf8(topic) + b"\x00\x01" + body))
            check(s.recv(4) == b"\x40\x02\x00\x01", f"no PUBACK for {topic}")
            s.sendall(b"\xe0\x00")


def fresh_db(name):
    psql(BASE_DSN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(BASE_DSN, f'CREATE DATABASE "{name}"')
    return BASE_DSN.replace("dbname=postgres", f"dbname={name}")


def rows(dsn):
    return psql(dsn, "SELECT metric, tags::text, value, extract(epoch from ts) FROM samples_view "
                     "ORDER BY value")


def test_mqtt_to_samples_view():
    dsn = fresh_db("it_mqtt")
    broker = Broker()
    broker.start()
    d = Iocd({"database": {"dsn": dsn}, "ingest": {"batch_max_delay": "50ms"},
              "collectors": [{"plugin": "mqtt", "name": "lights", "interval": "500ms",
                              "url": f"mqtt://127.0.0.1:{broker.port}",
                              "reconnect_min": "100ms", "reconnect_max": "500ms",
                              "username": "iocd", "password": "s3cret-pw-xyz",
                              "subscribe": [
                                  {"topic": "longan/+district/light/+id/power",
                                   "metric": "lighting.power", "tags": {"source": "cms"}},
                                  {"topic": "longan/+district/traffic/+id", "metric": "traffic.speed",
                                   "value": "/speed", "time": "/observedAt"}]}]})
    try:
        d.start()
        wait_for(lambda: "event=subscribed filters=2 connects=1" in d.logs(), 20, "mqtt subscribed")
        broker.publish("longan/Tân An/light/TA-0042/power", "120.5")
        broker.publish("longan/Tân An/light/TA-0042/power", "not a number")
        broker.publish("longan/Bến Lức/traffic/BL-7", '{"speed": 42, "observedAt": "2024-05-01T07:30:00+07:00"}')
        broker.publish("longan/Bến Lức/traffic/BL-7", '{"speed": "fast"}')
        wait_for(lambda: len(rows(dsn)) >= 2, 20, "two mqtt samples in samples_view")
        got = rows(dsn)
        check(len(got) == 2, f"rows {got}")
        check(got[0][0] == "traffic.speed" and float(got[0][2]) == 42, f"rows {got}")
        check(json.loads(got[0][1]) == {"district": "Bến Lức", "id": "BL-7"}, f"tags {got[0][1]}")
        check(abs(float(got[0][3]) - 1714523400) < 1e-3, f"payload time not used: {got[0][3]}")
        check(got[1][0] == "lighting.power" and float(got[1][2]) == 120.5, f"rows {got}")
        check(json.loads(got[1][1]) == {"district": "Tân An", "id": "TA-0042", "source": "cms"},
              f"tags {got[1][1]}")
        check('collector="lights" plugin=mqtt event=bad_payload' in d.logs(),
              f"bad payload not logged with the instance name:\n{d.logs()[-3000:]}")
        up = 'iocd_collector_up{collector="lights",plugin="mqtt"}'
        wait_for(lambda: d.metrics()[up] == 1, 10, "mqtt collector up on /metrics")

        broker.stop()
        wait_for(lambda: d.metrics()[up] == 0, 20, "mqtt collector down on /metrics")
        broker.start()
        wait_for(lambda: "connects=2" in d.logs(), 30, "mqtt reconnected and resubscribed")
        broker.publish("longan/Cần Giuộc/light/CG-1/power", "7")
        wait_for(lambda: len(rows(dsn)) >= 3, 20, "a sample after the broker restart")
        check(any(r[0] == "lighting.power" and float(r[2]) == 7 for r in rows(dsn)), f"{rows(dsn)}")
        wait_for(lambda: d.metrics()[up] == 1, 30, "mqtt collector up again on /metrics")
        check("s3cret-pw-xyz" not in d.logs(), "the broker password leaked into the log")
        check(d.stop() == 0, "iocd did not exit 0 on SIGTERM")
    finally:
        d.cleanup()
        broker.cleanup()


if __name__ == "__main__":
    run([test_mqtt_to_samples_view])
