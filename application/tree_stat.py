"""The stat fingerprint of the files a repo index depends on, walked here or in a helper.

``fingerprint`` is a digest of (path, size, mtime) of a few files and of every file
under some folders (dot-names skipped, symlinked folders not entered): it changes
when any of them is added, removed, resized or touched.  At 10,000 files a walk costs
about 25 ms of CPU, Python holding the GIL between ``stat`` calls; in a thread of a
server answering searches back to back it raised the server's CPU per search from
about 4 to 7 ms (the GIL handed back and forth at every ``stat``).  The server checks
while requests keep coming, so ``HelperWalk`` runs the walk in a
helper process at low priority (``python -I -m`` this module, one per index, started
on first use and ended with it): the waiting thread only reads a pipe, and requests
keep the GIL and the CPU.  Where the helper cannot run (no interpreter to start, it
died, it answered nonsense) the walk is done in-process, with the same result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterable

# the helper's niceness (added to the server's): it yields the CPU to requests
HELPER_NICENESS = 10
_EXIT_TIMEOUT = 5.0  # seconds a helper may take to exit at end of input


def _stat_tree(directory: str, out: list[tuple[str, int, int]]) -> None:
    """Append (path, size, mtime) of each file under ``directory``; (path, -1, -1) for
    what cannot be read (the rest of its folder is still walked)."""
    try:
        with os.scandir(directory) as it:
            for item in it:
                if item.name.startswith("."):
                    continue
                try:
                    if item.is_dir(follow_symlinks=False):
                        _stat_tree(item.path, out)
                        continue
                    st = item.stat()
                    out.append((item.path, st.st_size, st.st_mtime_ns))
                except OSError:  # a broken link, a file removed meanwhile
                    out.append((item.path, -1, -1))
    except OSError:
        out.append((directory, -1, -1))


def fingerprint(root: str, files: Iterable[str], folders: Iterable[str]) -> str:
    """The digest of sizes and mtimes of ``files`` and of every file under ``folders``
    (all relative to ``root``); the same in every process."""
    stats: list[tuple[str, int, int]] = []
    for rel in files:
        try:
            st = os.stat(os.path.join(root, rel))
            stats.append((rel, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((rel, -1, -1))
    for rel in folders:
        _stat_tree(os.path.join(root, rel), stats)
    return hashlib.blake2b(repr(stats).encode("utf-8", "surrogateescape")).hexdigest()


class HelperWalk:
    """``fingerprint`` computed by a helper process at low priority (in-process when
    the helper cannot answer).  Thread-safe; ``close`` ends the helper."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._broken = False  # the helper failed once: walk in-process from now on
        self.helper_walks = 0  # walks the helper answered (for tests and benches)

    def fingerprint(self, root: str, files: Iterable[str], folders: Iterable[str]) -> str:
        """``fingerprint(root, files, folders)``, walked by the helper when it can."""
        files, folders = list(files), list(folders)
        with self._lock:
            if not self._broken:
                try:
                    digest = self._ask({"root": root, "files": files, "folders": folders})
                    self.helper_walks += 1
                    return digest
                except (OSError, ValueError, subprocess.SubprocessError):
                    self._broken = True
                    self._stop()
        return fingerprint(root, files, folders)

    def _ask(self, request: dict[str, object]) -> str:
        process = self._process or self._start()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(request).encode() + b"\n")
        process.stdin.flush()
        answer = process.stdout.readline().decode().strip()
        if len(answer) != 128 or answer.strip("0123456789abcdef"):
            raise ValueError(f"the stat helper answered {answer[:80]!r}")
        return answer

    def _start(self) -> subprocess.Popen[bytes]:
        if not sys.executable:
            raise OSError("no interpreter to start the stat helper with")
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", __name__, str(HELPER_NICENESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._process = process
        weakref.finalize(self, _end, process)
        return process

    def _stop(self) -> None:
        if self._process is not None:
            _end(self._process)
            self._process = None

    def close(self) -> None:
        """End the helper (a later call starts a new one)."""
        with self._lock:
            self._stop()


def _end(process: subprocess.Popen[bytes]) -> None:
    """Close the helper's input (it exits at end of input, after any walk under way),
    reap it (killed if it does not end), then close its output."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=_EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(OSError):
        if process.stdout is not None:  # a reader waiting on it has seen the end by now
            process.stdout.close()


def serve(niceness: int) -> None:
    """The helper: one JSON request a line on stdin, its digest a line on stdout."""
    if niceness and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(niceness)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        digest = fingerprint(request["root"], request["files"], request["folders"])
        sys.stdout.write(digest + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
