"""A minimal WebSocket client (RFC 6455, stdlib only): handshake, masked frames, text messages.

Enough to test iocd's /ws: it verifies Sec-WebSocket-Accept and the subprotocol, answers pings,
reassembles fragmented messages, and can be told to stop reading (to play a stalled client).
"""
import base64
import hashlib
import os
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, head):
        super().__init__(f"upgrade refused: HTTP {status}")
        self.status = status
        self.head = head


class WsClient:
    def __init__(self, host, port, path="/ws", protocol="ioc.v1", headers=None, timeout=10,
                 rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_head()
        status_line, *hdr_lines = head.split("\r\n")
        parts = status_line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            self.sock.close()
            raise HandshakeRefused(status, head)
        hdrs = {}
        for line in hdr_lines:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            raise AssertionError(f"bad Sec-WebSocket-Accept: {hdrs}")
        if protocol and hdrs.get("sec-websocket-protocol") != protocol:
            raise AssertionError(f"server chose protocol {hdrs.get('sec-websocket-protocol')!r}")

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise HandshakeRefused(0, self.buf.decode("latin-1"))
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head.decode("latin-1")

    def send_frame(self, opcode, payload, fin=True):
        """Sends one masked frame (opcode 1 text, 2 binary, 0 continuation, 9 ping, 10 pong)."""
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send_text(self, text):
        self.send_frame(1, text.encode())

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no frame from the server in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def recv(self, timeout=5.0):
        """Returns the next text message as str; answers pings; raises on close or timeout."""
        deadline = time.time() + timeout
        parts = []
        while True:
            self._need(2, deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n, h = b1 & 0x7F, 2
            if n == 126:
                self._need(4, deadline)
                n, h = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, deadline)
                n, h = struct.unpack("!Q", self.buf[2:10])[0], 10
            if b1 & 0x80:
                raise AssertionError("server frames must not be masked")
            self._need(h + n, deadline)
            payload, self.buf = self.buf[h:h + n], self.buf[h + n:]
            op = b0 & 0x0F
            if op == 9:
                self.send_frame(10, payload)
                continue
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"server closed the WebSocket (code {code})")
            if op in (1, 0):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode("utf-8")
            elif op == 2:
                raise AssertionError("unexpected binary frame")

    def close(self):
        try:
            self.send_frame(8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
