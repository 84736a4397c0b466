"""A persona file's load result, cached by the content hash of every file it read.

``load_persona_outcome`` depends only on the bytes of the files it reads: the
persona file, its prompt file and its avatar (or their absence).  An entry is
keyed by the persona file's path and content id and records what the loader saw
of every other file; a lookup re-reads and re-hashes those files and serves the
entry only when all of them are unchanged.  Sizes and mtimes are never trusted.

Every entry is known by both the SHA-256 and the git blob id of the same bytes,
so a draft's files (a git tree names them without reading them) and the working
tree share entries.  One ``ParseCache`` serves the CLI (``personas plan``/``apply``)
and the MCP server.  On a cold start, ``prefetch`` parses in worker processes.

``ParseCache.for_repo`` persists the entries to ``.personas/parse-cache.json`` (a
header line, one entry a line, the HMAC last) so the next run starts warm.  That
file is only trusted when its HMAC checks out
under a random key kept in the user's cache folder (a cache committed to a pull
request cannot forge a result), and when it was written by the same tool version
and the same validation code (a fingerprint of the ``schemas`` package): anything
else, including a truncated or corrupt file, is ignored as if there were no cache.
Writes go to a temporary file renamed into place, so concurrent writers never
leave a half-written cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from personas_as_code.loader.cache_file import (
    MAC_CHARS,
    header,
    reached_directly,
    secret_key,
    write_signed,
)
from personas_as_code.loader.files import DirectoryFiles, PathRefused, RepoFiles, read_limited
from personas_as_code.loader.repo import (
    INTERNAL_ERROR,
    Avatar,
    LoadedPersona,
    PersonaLoad,
    load_persona_entry,
    load_persona_outcome,
)
from personas_as_code.schemas.persona import PersonaFile
from personas_as_code.schemas.problems import Problem
from personas_as_code.untrusted.yaml import MAX_YAML_BYTES

CACHE_FILE = Path(".personas") / "parse-cache.json"
PARALLEL_MIN = 300  # unseen files worth forking workers for
SPAWN_MIN = 1000  # ... worth spawning fresh interpreters for (a process with threads)
MAX_WORKERS = 4
MAX_CACHE_BYTES = 512 * 1024 * 1024

# One observation of a file: ("read", content id) or ("size", "123"), or the same
# operation's refusal ("read", "!PathRefused: ...").
Observation = tuple[str, str]


def content_ids(data: bytes) -> tuple[str, str]:
    """The SHA-256 and the git blob id of ``data``: a working tree and a git tree name
    the same bytes the same way, so one entry serves both."""
    sha1 = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    sha1.update(data)
    return "sha256:" + hashlib.sha256(data).hexdigest(), "git:" + sha1.hexdigest()


def _content_token(data: bytes) -> str:
    return " ".join(content_ids(data))


def _refusal(exc: Exception) -> str:
    return f"!{type(exc).__name__}: {exc}"


class _Uncacheable(Exception):
    """A read failed for a reason that may not last (permissions, I/O)."""


class _Recording:
    """``RepoFiles`` that notes the last observation of every path the loader touches."""

    def __init__(self, inner: RepoFiles) -> None:
        self.inner = inner
        self.seen: dict[str, Observation] = {}
        self.cacheable = True

    def list_files(self, directory: str, suffixes: tuple[str, ...]) -> list[str]:
        return self.inner.list_files(directory, suffixes)

    def size(self, path: str) -> int:
        try:
            size = self.inner.size(path)
        except (FileNotFoundError, PathRefused) as exc:
            self.seen[path] = ("size", _refusal(exc))
            raise
        except OSError:
            self.cacheable = False
            raise
        self.seen[path] = ("size", str(size))
        return size

    def read(self, path: str) -> bytes:
        try:
            data = self.inner.read(path)
        except (FileNotFoundError, PathRefused) as exc:
            self.seen[path] = ("read", _refusal(exc))
            raise
        except OSError:
            self.cacheable = False
            raise
        self.seen[path] = ("read", _content_token(data))
        return data


def _observe(files: RepoFiles, path: str, op: str) -> tuple[str, bytes | None]:
    """Repeat one observation: its result now, and the bytes when it was a read."""
    try:
        if op == "size":
            return str(files.size(path)), None
        data = files.read(path)
    except (FileNotFoundError, PathRefused) as exc:
        return _refusal(exc), None
    except OSError:
        raise _Uncacheable from None
    return _content_token(data), data


@dataclass
class _Entry:
    """One cached load: what the loader saw of other files, and its result as JSON data
    (``record``, kept as JSON text: a tenth of the memory of the objects) and, once
    rebuilt or computed, as objects (``load``)."""

    key: tuple[str, str]  # (path, SHA-256 content id)
    git: str  # the git blob id of the same bytes
    reads: tuple[tuple[str, str, str], ...]  # (path, op, result)
    record: str
    load: PersonaLoad | None = None


def _problem_row(problem: Problem) -> list[Any]:
    p = problem
    return [p.path, p.line, p.col, p.message, p.code, p.severity]


def _record(load: PersonaLoad, data: Any) -> str:
    """The JSON text of a load; the persona is kept as the mapping it was validated from."""
    persona = load.persona
    record = {
        "problems": [_problem_row(p) for p in load.problems],
        "names": [list(n) for n in load.names],
        "persona": None
        if persona is None
        else {
            "slug": persona.slug,
            "data": data,
            "prompt_path": persona.prompt_path,
            "avatar": None
            if persona.avatar is None
            else {"path": persona.avatar.path, "mime": persona.avatar.mime},
            "file_sha256": persona.file_sha256,
            "key_lines": persona.key_lines,
        },
    }
    return json.dumps(record, separators=(",", ":"))  # ASCII: lone surrogates survive


def _rebuild(text: str, path: str, contents: dict[str, bytes]) -> PersonaLoad:
    """The ``PersonaLoad`` of a record, with the referenced files' verified ``contents``."""
    record = json.loads(text)
    problems = tuple(Problem(*row) for row in record["problems"])
    names = tuple((str(name), int(line)) for name, line in record["names"])
    saved = record["persona"]
    if saved is None:
        return PersonaLoad(None, problems, names)
    # Validated again, though this code wrote it (under the HMAC): the record keeps the
    # mapping the file gave, and ``model_construct`` would skip the validators that
    # normalise it and build no nested models, so the result could differ from a fresh
    # load.  It costs about 16 us a file, less than re-reading and hashing the file.
    spec = PersonaFile.model_validate(saved["data"])
    prompt_path = saved["prompt_path"]
    system_prompt = spec.system_prompt if spec.system_prompt is not None else ""
    if prompt_path is not None:
        system_prompt = contents[prompt_path].decode("utf-8")
    avatar = None
    if saved["avatar"] is not None:
        data = contents[saved["avatar"]["path"]]
        avatar = Avatar(
            saved["avatar"]["path"], saved["avatar"]["mime"], data, hashlib.sha256(data).hexdigest()
        )
    persona = LoadedPersona(
        slug=saved["slug"],
        path=path,
        spec=spec,
        system_prompt=system_prompt,
        prompt_path=prompt_path,
        avatar=avatar,
        file_sha256=saved["file_sha256"],
        key_lines={str(k): int(v) for k, v in saved["key_lines"].items()},
    )
    return PersonaLoad(persona, problems, names)


def _compute(
    files: RepoFiles, path: str, raw: bytes, sha256: str, git: str
) -> tuple[PersonaLoad, _Entry | None]:
    """Load ``path`` (whose bytes are ``raw``) and the cache entry of the result (None
    when it must not be cached: a read that may fail differently next time, a bug)."""
    recording = _Recording(files)
    load, data = load_persona_outcome(recording, path, raw)
    if not recording.cacheable or any(p.code == INTERNAL_ERROR for p in load.problems):
        return load, None
    reads = tuple((p, op, result) for p, (op, result) in recording.seen.items() if p != path)
    return load, _Entry((path, sha256), git, reads, _record(load, data))


def _compute_many(root: str, paths: list[str]) -> list[_Entry]:
    """The cache entries of ``paths`` in the working tree at ``root`` (a worker's job)."""
    files = DirectoryFiles(root)
    entries = []
    for path in paths:
        try:
            raw = read_limited(files, path, MAX_YAML_BYTES)
        except (OSError, PathRefused):
            continue
        _load, entry = _compute(files, path, raw, *content_ids(raw))
        if entry is not None:
            entries.append(entry)
    return entries


class ParseCache:
    """Persona-file load results by content hash of every file read; a ``PersonaLoader``.

    ``load`` gives exactly what ``load_persona_entry`` gives.  In memory the entries
    form a bounded LRU; ``save`` writes the SHA-256 ones used since ``open`` to
    ``path`` (when given).
    """

    def __init__(
        self, path: Path | None = None, max_entries: int = 50_000, root: Path | None = None
    ) -> None:
        self.path = path
        self.root = root  # when given, ``save`` writes only to a real folder inside it
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._used: set[tuple[str, str]] = set()
        self._ready: dict[str, _Entry] = {}  # path -> entry a worker just computed
        self._ready_files: RepoFiles | None = None  # ... for this load's files
        self._lock = threading.Lock()
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self.prefetched = 0
        self.parallel_min = PARALLEL_MIN
        if path is not None:
            self._read_file(path)

    @classmethod
    def for_repo(cls, root: str | Path) -> ParseCache:
        """The cache persisted under ``root``'s ``.personas/`` folder."""
        return cls(Path(root) / CACHE_FILE, root=Path(root))

    # --- lookups ------------------------------------------------------------------

    def load(self, files: RepoFiles, path: str) -> PersonaLoad:
        """The load result of ``path`` in ``files``: cached when every file it read is
        unchanged, else computed (and cached)."""
        with self._lock:  # only for the same load: a later one reads the files again
            ready = self._ready.pop(path, None) if files is self._ready_files else None
        if ready is not None and ready.load is not None:  # parsed by a worker just now
            with self._lock:
                if self._entries.get(ready.key) is ready:
                    self._entries.move_to_end(ready.key)
                self._used.add(ready.key)
                self.hits += 1
            return ready.load
        blob_id = getattr(files, "blob_id", None)
        if callable(blob_id):  # a git tree names its files without reading them
            load = self._lookup(files, path, (path, f"git:{blob_id(path)}"))
            if load is not None:
                return load
        try:
            raw = read_limited(files, path, MAX_YAML_BYTES)
        except (OSError, PathRefused):  # the loader says what is wrong
            return load_persona_entry(files, path)
        sha256, git = content_ids(raw)
        load = self._lookup(files, path, (path, sha256))
        if load is not None:
            return load
        load, entry = _compute(files, path, raw, sha256, git)
        with self._lock:
            self.misses += 1
            if entry is not None:
                entry.load = load
                self._add(entry)
                self._dirty = True
        return load

    def prefetch(self, files: RepoFiles, paths: list[str]) -> None:
        """Load the files this cache has never seen in worker processes, when there are
        many (a cold start), so ``load`` finds them cached; any failure here only means
        ``load`` does the work itself.

        Only for a working tree.  From a process with one thread workers are forked,
        which is cheap and safe then; from one with threads (the MCP server) forking is
        not safe, so fresh interpreters are spawned, worth their start-up only for
        ``SPAWN_MIN`` files or more.
        """
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        if workers < 2 or type(files) is not DirectoryFiles:
            return
        threaded = threading.active_count() > 1
        with self._lock:
            known = {path for path, _ in self._entries}
        unseen = [p for p in paths if p not in known]
        if len(unseen) < (max(self.parallel_min, SPAWN_MIN) if threaded else self.parallel_min):
            return
        with self._lock:
            self._ready, self._ready_files = {}, files
        size = max(50, min(500, len(unseen) // (4 * workers)))
        chunks = [unseen[i : i + size] for i in range(0, len(unseen), size)]
        try:
            context = multiprocessing.get_context("spawn" if threaded else "fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                for computed in pool.map(_compute_many, repeat(str(files.root)), chunks):
                    with self._lock:
                        for entry in computed:
                            self._add(entry)
                            self._dirty = True
                    for entry in computed:  # rebuilt here while the workers go on
                        self._take_prefetched(files, entry)
        except Exception:  # BrokenProcessPool, pickling, resources: load does the work
            return

    def _take_prefetched(self, files: RepoFiles, entry: _Entry) -> None:
        """Rebuild a worker's entry for the next ``load`` of its path: the worker read
        and hashed the file a moment ago, so it is not read and hashed again (the
        other files it read are checked as for any entry)."""
        load = self._serve(files, entry.key[0], entry)
        if load is not None:
            with self._lock:
                self._ready[entry.key[0]] = entry
                self.prefetched += 1

    def _lookup(self, files: RepoFiles, path: str, key: tuple[str, str]) -> PersonaLoad | None:
        """The entry at ``key`` when it is still valid, counted as a hit; else None."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        load = self._serve(files, path, entry)
        if load is not None:
            with self._lock:
                self._entries.move_to_end(key)
                self._used.add(entry.key)
                self.hits += 1
        return load

    def _add(self, entry: _Entry) -> None:
        """Index ``entry`` by both of its content ids; drop the least recently used."""
        self._entries[entry.key] = entry
        self._entries[(entry.key[0], entry.git)] = entry
        self._used.add(entry.key)
        while len(self._entries) > 2 * self.max_entries:
            key, dropped = self._entries.popitem(last=False)
            if key == dropped.key:
                self._used.discard(key)

    def _serve(self, files: RepoFiles, path: str, entry: _Entry) -> PersonaLoad | None:
        """The entry's load when every other file it read is unchanged, else None."""
        contents: dict[str, bytes] = {}
        try:
            for other, op, result in entry.reads:
                now, data = _observe(files, other, op)
                if now != result:
                    return None
                if data is not None:
                    contents[other] = data
        except _Uncacheable:
            return None
        if entry.load is not None:
            return entry.load
        try:
            entry.load = _rebuild(entry.record, path, contents)
        except Exception:  # a record this code cannot rebuild: recompute instead
            return None
        return entry.load

    # --- persistence --------------------------------------------------------------

    def _read_file(self, path: Path) -> None:
        """Take the entries of a cache file we wrote; ignore anything else."""
        secret = secret_key(create=False)
        if secret is None:
            return
        try:
            if path.stat().st_size > MAX_CACHE_BYTES:  # not ours: ours stay far smaller
                return
            blob = path.read_bytes()
        except OSError:
            return
        with memoryview(blob) as view:
            expected = hmac.new(secret, view[:-MAC_CHARS], hashlib.sha256).hexdigest()
        if not hmac.compare_digest(blob[-MAC_CHARS:], expected.encode()):
            return
        lines = blob.split(b"\n")  # the last one is the HMAC
        del blob
        try:
            if json.loads(lines[0]) != header():
                return
            for line in lines[1:-1]:
                file_path, sha256, git, reads, record = json.loads(line)
                key = (str(file_path), str(sha256))
                if not isinstance(record, str):
                    raise TypeError("a record is JSON text")
                reads = tuple((str(p), str(op), str(r)) for p, op, r in reads)
                entry = _Entry(key, str(git), reads, record)
                self._entries[key] = self._entries[(key[0], entry.git)] = entry
        except (ValueError, TypeError, KeyError, AttributeError):
            self._entries.clear()

    def save(self) -> None:
        """Write the entries used since opening to the cache file, when anything changed;
        a cache that cannot be written is simply not written."""
        if self.path is None or (
            self.root is not None and not reached_directly(self.root, self.path)
        ):
            return
        with self._lock:
            # each entry sits under both of its content ids: count entries, not slots
            held = {e.key: e for e in self._entries.values()}
            kept = [e for key, e in held.items() if key in self._used]
            if not self._dirty and len(kept) == len(held):
                return  # the file already holds exactly these entries
            self._dirty = False
        key = secret_key(create=True)
        if key is None:
            return
        with contextlib.suppress(OSError):
            write_signed(self.path, key, _lines(kept))


def _lines(entries: list[_Entry]) -> Iterator[bytes]:
    """The cache file's lines: the header, then one entry each (written one at a time,
    so a 10,000-entry cache is never held twice in memory)."""
    yield json.dumps(header(), separators=(",", ":")).encode() + b"\n"
    for e in entries:
        row = [e.key[0], e.key[1], e.git, e.reads, e.record]
        yield json.dumps(row, separators=(",", ":")).encode() + b"\n"


@contextlib.contextmanager
def repo_parse_cache(root: str | Path) -> Iterator[ParseCache]:
    """The persisted cache of ``root``, saved when the block ends without an error."""
    cache = ParseCache.for_repo(root)
    yield cache
    cache.save()
