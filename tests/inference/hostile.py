"""Upstreams that misbehave in ways a real model server cannot be made to: a small
socket server on loopback, one behaviour per instance.

* ``hang``: accepts, reads the request, never answers;
* ``keepalive``: one content piece (optional), then only ``: keepalive`` comments;
* ``trickle``: a content piece every ``interval`` seconds, forever;
* ``gated``: reads the request, then waits until the test sets ``gate`` before a
  short normal stream (``Hello there``) -- a slow first token the test controls;
* ``echo-key``: answers 401 with the request's ``Authorization`` header in its error
  message (a stream: one piece, then an error event repeating the header).

``open`` counts the connections still open; ``closed_at`` records when the client closed
each one (seen by the server), so a test can tell that the upstream was let go.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
)
LEAKED = "AKIAIOSFODNN7EXAMPLE"
"""A secret of another kind (an AWS key id) that ``echo-key`` also repeats."""


def piece(text: str, finish: str | None = None) -> bytes:
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


@dataclass
class Hostile:
    """One server; ``base_url`` is what a backend's ``base_url`` is set to."""

    mode: str
    interval: float = 0.2
    base_url: str = ""
    open: int = 0
    accepted: int = 0
    closed_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    conns: list[socket.socket] = field(default_factory=list)
    stopping: bool = False
    gate: threading.Event = field(default_factory=threading.Event)

    def serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.open += 1
            self.accepted += 1
            self.conns.append(conn)
        try:
            head, body = _read_request(conn)
            getattr(self, "_" + self.mode.replace("-", "_"))(conn, head, body)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
                self.closed_at.append(time.monotonic())
            with contextlib.suppress(OSError):
                conn.close()

    def release(self) -> None:
        """Drop every connection open now (their calls fail at once)."""
        with self.lock:
            conns, self.conns = list(self.conns), []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _hang(self, conn: socket.socket, head: str, body: Any) -> None:
        _wait_closed(conn, None, self)

    def _keepalive(self, conn: socket.socket, head: str, body: Any) -> None:
        conn.sendall(SSE_HEAD + piece("Hello"))
        while not _wait_closed(conn, self.interval, self):
            conn.sendall(b": keepalive\n\n")

    def _trickle(self, conn: socket.socket, head: str, body: Any) -> None:
        conn.sendall(SSE_HEAD)
        while not _wait_closed(conn, self.interval, self):
            conn.sendall(piece("tick "))

    def _gated(self, conn: socket.socket, head: str, body: Any) -> None:
        while not self.gate.wait(0.1):
            if self.stopping:
                return
        conn.sendall(SSE_HEAD + piece("Hello") + piece(" there", "stop") + b"data: [DONE]\n\n")

    def _echo_key(self, conn: socket.socket, head: str, body: Any) -> None:
        auth = next(
            (line.split(":", 1)[1].strip() for line in head.split("\r\n")
             if line.lower().startswith("authorization:")),
            "(none)",
        )  # fmt: skip
        said = f"Incorrect API key provided: {auth}. Your account {LEAKED} was notified."
        if isinstance(body, dict) and body.get("stream"):
            error = json.dumps({"error": {"message": said, "type": "auth"}})
            conn.sendall(SSE_HEAD + piece("Hi") + f"data: {error}\n\n".encode())
            return
        text = json.dumps({"error": {"message": said, "type": "invalid_request_error"}})
        conn.sendall(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n{text}".encode()
        )


def _read_request(conn: socket.socket) -> tuple[str, Any]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            raise OSError("closed before the request")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    length = 0
    for line in text.split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(rest) < length:
        more = conn.recv(65536)
        if not more:
            break
        rest += more
    try:
        return text, json.loads(rest or b"null")
    except ValueError:
        return text, None


def _wait_closed(conn: socket.socket, timeout: float | None, server: Hostile) -> bool:
    """Wait up to ``timeout`` (None: until closed) for the client to close; True if it did."""
    end = None if timeout is None else time.monotonic() + timeout
    while not server.stopping:
        left = 0.2 if end is None else min(0.2, end - time.monotonic())
        if left <= 0:
            return False
        readable, _, _ = select.select([conn], [], [], left)
        if readable and not conn.recv(65536):
            return True
    return True


@contextlib.contextmanager
def serve_hostile(mode: str, interval: float = 0.2) -> Iterator[Hostile]:
    """Serve one ``mode`` on a loopback port; on exit every connection is dropped."""
    server = Hostile(mode, interval)
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    server.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

    listener.settimeout(0.2)

    def accept() -> None:
        while not server.stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=server.serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping = True
        listener.close()
        server.release()
        thread.join(timeout=5)


def wait_for(check: Any, timeout: float, what: str) -> None:
    """Poll ``check()`` until true, or fail naming ``what``."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
