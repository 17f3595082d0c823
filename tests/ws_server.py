"""A minimal WebSocket server (RFC 6455) on loopback, standing in for Slack's Socket Mode endpoint."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketModeServer:
    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self.received: list[dict] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=test"

    def close(self) -> None:
        for sock in (self._conn, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    # ---- server side ---------------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            key = next(
                line.split(":", 1)[1].strip()
                for line in request.decode().split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self._conn = conn
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _recv_exact(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read(self, conn: socket.socket) -> None:
        try:
            while True:
                b1, b2 = self._recv_exact(conn, 2)
                opcode, length = b1 & 0x0F, b2 & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._recv_exact(conn, 2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._recv_exact(conn, 8))
                mask = self._recv_exact(conn, 4) if b2 & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._recv_exact(conn, length)))
                if opcode == 0x9:  # ping -> pong
                    self._send_frame(0xA, payload)
                elif opcode == 0x1:
                    self.received.append(json.loads(payload))
                elif opcode == 0x8:
                    return
        except (ConnectionError, OSError, ValueError):
            return

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([len(payload)])
        elif len(payload) < 65536:
            header += bytes([126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([127]) + struct.pack("!Q", len(payload))
        with self._send_lock:
            assert self._conn is not None
            self._conn.sendall(header + payload)

    # ---- test side -------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        self._send_frame(0x1, json.dumps(message).encode())

    def wait_connected(self, timeout: float = 30) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._conn is not None:
                return True
            time.sleep(0.05)
        return False

    def wait_received(self, envelope_id: str, timeout: float = 10) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(m.get("envelope_id") == envelope_id for m in self.received):
                return True
            time.sleep(0.05)
        return False
