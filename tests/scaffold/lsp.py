"""A minimal Language Server Protocol client over stdio, enough to drive
yaml-language-server from a test: requests, notifications, and the server's own
requests (configuration, capability registration) answered."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

SETTINGS = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        # Offline: never fetch the SchemaStore catalogue; only the modelines count.
        "schemaStore": {"enable": False},
    }
}


class LspClient:
    """JSON-RPC 2.0 with Content-Length framing to a server process."""

    def __init__(self, command: list[str], root: Path) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.root = root
        self._next_id = 0
        self._responses: dict[int, Any] = {}
        self._notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.process.stdin.flush()

    def _read_message(self) -> dict[str, Any] | None:
        stream = self.process.stdout
        assert stream is not None
        length = None
        while True:
            line = stream.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        assert length is not None, "a message without Content-Length"
        return json.loads(stream.read(length))

    def _read_loop(self) -> None:
        while (message := self._read_message()) is not None:
            if "id" in message and "method" in message:
                self._answer(message)
            elif "id" in message:
                with self._lock:
                    self._responses[message["id"]] = message
                    self._lock.notify_all()
            else:
                self._notifications.put(message)

    def _answer(self, request: dict[str, Any]) -> None:
        """The server asks the client: settings per section, or registrations (accepted)."""
        result: Any = None
        if request["method"] == "workspace/configuration":
            result = [_dig(SETTINGS, i.get("section", "")) for i in request["params"]["items"]]
        self._send({"id": request["id"], "result": result})

    def request(self, method: str, params: Any, timeout: float = 20.0) -> Any:
        """Send a request and wait for its result (an error response fails)."""
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self._lock:
            while request_id not in self._responses:
                left = deadline - time.monotonic()
                assert left > 0, f"no answer to {method} in {timeout} s"
                self._lock.wait(left)
            response = self._responses.pop(request_id)
        assert "error" not in response, response["error"]
        return response.get("result")

    def notify(self, method: str, params: Any) -> None:
        """Send a notification."""
        self._send({"method": method, "params": params})

    def diagnostics(self, uri: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The next diagnostics the server publishes for ``uri``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no diagnostics for {uri} in {timeout} s"
            message = self._notifications.get(timeout=left)
            if message.get("method") != "textDocument/publishDiagnostics":
                continue
            if message["params"]["uri"] == uri:
                return message["params"]["diagnostics"]

    def open(self, path: Path) -> str:
        """Open ``path`` as a YAML document; its URI."""
        uri = path.as_uri()
        document = {
            "uri": uri,
            "languageId": "yaml",
            "version": 1,
            "text": path.read_text(encoding="utf-8"),
        }
        self.notify("textDocument/didOpen", {"textDocument": document})
        return uri

    def start(self) -> dict[str, Any]:
        """initialize + initialized + the settings; the server's capabilities."""
        capabilities = {
            "workspace": {"configuration": True, "didChangeConfiguration": {}},
            "textDocument": {
                "publishDiagnostics": {},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "completion": {"completionItem": {"snippetSupport": False}},
            },
        }
        result = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": self.root.as_uri(),
                "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
                "capabilities": capabilities,
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": SETTINGS})
        return result["capabilities"]

    def close(self) -> None:
        """shutdown + exit, then make sure the process is gone."""
        try:
            self.request("shutdown", None, timeout=5)
            self.notify("exit", None)
            self.process.wait(timeout=5)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def _dig(settings: dict[str, Any], dotted: str) -> Any:
    node: Any = settings
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
