"""HTTP/1.1 by hand over a loopback socket, for tests that must show *when* a
server answers: before a body is sent, or after only part of an endless one.

``exchange`` sends a request head, then body pieces while the server is
silent, and stops sending the moment an answer is readable; the response says
how many body bytes got out first.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class RawResponse:
    """A response as read off the socket."""

    status: int
    headers: dict[str, str]
    body: bytes
    body_sent: int

    def json(self) -> Any:
        return json.loads(self.body)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    """A request head (``Host`` and ``Connection: close`` added)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in {**headers, "Connection": "close"}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` framed as a chunked body (with the closing zero chunk)."""
    for piece in pieces:
        if piece:
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def endless(first: bytes, filler: bytes = b"a") -> Iterator[bytes]:
    """``first`` then filler forever, in 64 KiB pieces."""
    yield first
    block = filler * (CHUNK // len(filler))
    while True:
        yield block


def exchange(
    address: tuple[str, int],
    request_head: bytes,
    body: Iterable[bytes] = (),
    *,
    budget: int = 64 * MiB,
) -> RawResponse:
    """Send ``request_head`` and ``body`` until the server answers; read the answer.

    Fails when more than ``budget`` body bytes went out with no answer (the
    server is reading what it should have refused).
    """
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request_head)
        sent = 0
        pieces = iter(body)
        pending = b""
        sock.setblocking(False)
        while True:
            if not pending:
                pending = next(pieces, b"")
                if not pending:
                    break
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable or not writable:
                break
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += n
            pending = pending[n:]
            assert sent <= budget, f"no answer after {sent:,} body bytes: the body is being read"
        sock.settimeout(30)
        return _read_response(sock, sent)


def _read_response(sock: socket.socket, sent: int) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(CHUNK)
        assert piece, f"connection closed before a response head: {data!r}"
        data += piece
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while status >= 200 and len(rest) < length:
        piece = sock.recv(CHUNK)
        if not piece:
            break
        rest += piece
    return RawResponse(status, headers, rest[:length], sent)
