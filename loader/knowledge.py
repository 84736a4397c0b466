"""Load and check a repo's knowledge folders: ``<folder>/<source_id>/`` with documents.

Documents are Markdown (``.md``, ``.markdown``) and plain text (``.txt``), UTF-8,
at most ``[knowledge] max_document_bytes`` each, no NUL bytes, no credentials (the
detectors of ``untrusted.secrets``: a document holding one is refused, so it is never
indexed), inside the repo (a symlink leading out is refused without being read).
``collection.yaml`` in a folder is validated against ``schemas.collection.CollectionFile``.
Every problem is located as ``path:line:col``; a refused document is left out, the
others still load.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from personas_as_code.loader.files import OversizedFile, PathRefused, RepoFiles, read_limited
from personas_as_code.schemas.collection import COLLECTION_FILE, CollectionFile
from personas_as_code.schemas.config import KnowledgeSection
from personas_as_code.schemas.problems import Problem
from personas_as_code.untrusted.secrets import SecretFinding, find_secrets, secret_problems
from personas_as_code.untrusted.yaml import MAX_YAML_BYTES, YamlRefused, parse_yaml
from personas_as_code.untrusted.yaml_paths import locate
from pydantic import ValidationError

DOCUMENT_SUFFIXES = (".md", ".markdown", ".txt")
_YAML_SUFFIXES = (".yaml", ".yml")
SOURCE_ID_MAX = 200


@dataclass(frozen=True)
class KnowledgeDocument:
    """One document: repo-relative path, its text and the sha256 of its bytes."""

    path: str
    text: str = field(repr=False)
    sha256: str


@dataclass(frozen=True)
class KnowledgeFolder:
    """One source's folder: its id, its ``collection.yaml`` (defaults when absent), its
    documents in path order."""

    source_id: str
    path: str
    spec: CollectionFile
    documents: tuple[KnowledgeDocument, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of text in the folder's documents."""
        return sum(len(d.text.encode()) for d in self.documents)


def _line_at(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of byte ``offset``."""
    before = data[:offset]
    line = before.count(b"\n") + 1
    return line, offset - (before.rfind(b"\n") + 1) + 1


def _document(
    files: RepoFiles, path: str, limit: int
) -> tuple[KnowledgeDocument | None, list[Problem]]:
    """One document, or None and why it is refused (each secret in it, for one)."""
    document, problem = _read_document(files, path, limit)
    if document is None:
        return None, [problem] if problem is not None else []
    found = _findings(document)
    secrets = secret_problems(document.text, path, holder="a knowledge document", findings=found)
    return (None, secrets) if secrets else (document, [])


_SCANNED: OrderedDict[str, tuple[SecretFinding, ...]] = OrderedDict()
_SCANNED_LOCK = threading.Lock()
MAX_SCANNED = 50_000  # documents whose scan is remembered (a few bytes each when clean)


def _findings(document: KnowledgeDocument) -> tuple[SecretFinding, ...]:
    """The secret scan of a document's text, remembered by its content hash: a baseline
    ref or a draft mostly holds the working tree's documents, and the scan is most of
    what loading a document costs."""
    with _SCANNED_LOCK:
        known = _SCANNED.get(document.sha256)
        if known is not None:
            _SCANNED.move_to_end(document.sha256)
            return known
    found = tuple(find_secrets(document.text))
    with _SCANNED_LOCK:
        _SCANNED[document.sha256] = found
        while len(_SCANNED) > MAX_SCANNED:
            _SCANNED.popitem(last=False)
    return found


def _read_document(
    files: RepoFiles, path: str, limit: int
) -> tuple[KnowledgeDocument | None, Problem | None]:
    try:
        data = read_limited(files, path, limit)
    except OversizedFile as exc:
        message = (
            f"document is {exc.size:,} bytes; the limit is {exc.limit:,} bytes "
            "([knowledge] max_document_bytes)"
        )
        return None, Problem(path, 1, 1, message, code="file_too_large")
    except PathRefused as exc:
        return None, Problem(path, 0, 0, str(exc), code="path")
    except FileNotFoundError:
        return None, Problem(path, 0, 0, "file disappeared while loading", code="io")
    except OSError as exc:
        return None, Problem(path, 0, 0, f"cannot read: {exc.strerror}", code="io")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_at(data, nul)
        message = "document holds a NUL byte; only UTF-8 text is indexed"
        return None, Problem(path, line, col, message, code="encoding")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_at(data, exc.start)
        message = f"document is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        return None, Problem(path, line, col, message, code="encoding")
    text = text.removeprefix("\ufeff")
    return KnowledgeDocument(path, text, hashlib.sha256(data).hexdigest()), None


def _collection(files: RepoFiles, path: str) -> tuple[CollectionFile, list[Problem]]:
    try:
        raw = read_limited(files, path, MAX_YAML_BYTES)
        parsed = parse_yaml(raw, path)
    except YamlRefused as exc:
        return CollectionFile(), exc.problems
    except OversizedFile as exc:
        return CollectionFile(), [Problem(path, 1, 1, f"file {exc}", code="file_too_large")]
    except PathRefused as exc:
        return CollectionFile(), [Problem(path, 0, 0, str(exc), code="path")]
    except OSError as exc:
        return CollectionFile(), [Problem(path, 0, 0, f"cannot read: {exc}", code="io")]
    if parsed.data is None:
        return CollectionFile(), []
    if not isinstance(parsed.data, dict):
        kind = type(parsed.data).__name__
        return CollectionFile(), [
            Problem(
                path, *locate(parsed.node, ()), f"collection.yaml must be a mapping, not {kind}"
            )
        ]
    try:
        return CollectionFile.model_validate(parsed.data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc) or "(document)"
            if err["type"] == "extra_forbidden":
                message = f"unknown key '{dotted}'"
            else:
                message = f"{dotted}: {err['msg'].removeprefix('Value error, ')}"
            line, col = locate(parsed.node, loc, key=err["type"] in ("extra_forbidden", "missing"))
            problems.append(Problem(path, line, col, message, code=err["type"]))
        return CollectionFile(), problems


def _source_id_problem(folder: str, source_id: str) -> Problem | None:
    if (
        len(source_id) > SOURCE_ID_MAX
        or not source_id.isprintable()
        or source_id != source_id.strip()
    ):
        return Problem(
            f"{folder}/{source_id}",
            0,
            0,
            "a knowledge folder's name is a source id: printable, at most 200 characters, "
            "no surrounding spaces",
            code="knowledge_folder",
        )
    return None


def _listing(
    files: RepoFiles, base: str
) -> tuple[dict[str, list[str]], dict[str, str], list[Problem]]:
    """The knowledge folder's documents by source id, each source's collection file, and
    the documents left outside a source folder (warnings: not indexed)."""
    problems: list[Problem] = []
    grouped: dict[str, list[str]] = {}
    collections: dict[str, str] = {}
    for path in files.list_files(base, DOCUMENT_SUFFIXES + _YAML_SUFFIXES):
        relative = posixpath.relpath(path, base)
        if "/" not in relative:
            if path.endswith(DOCUMENT_SUFFIXES):
                problems.append(
                    Problem(
                        path,
                        0,
                        0,
                        f"documents belong in a source folder ({base}/<source_id>/); not indexed",
                        code="knowledge_folder",
                        severity="warning",
                    )
                )
            continue
        source_id, inner = relative.split("/", 1)
        if inner == COLLECTION_FILE:
            collections[source_id] = path
        elif path.endswith(DOCUMENT_SUFFIXES):
            grouped.setdefault(source_id, [])
            grouped[source_id].append(path)
        else:
            grouped.setdefault(source_id, [])
    return grouped, collections, problems


def load_knowledge(
    files: RepoFiles, config: KnowledgeSection
) -> tuple[dict[str, KnowledgeFolder], list[Problem]]:
    """Every knowledge folder of the repo, by source id, and the problems found."""
    base = config.folder.strip("/")
    grouped, collections, problems = _listing(files, base)
    folders: dict[str, KnowledgeFolder] = {}
    total = 0
    for source_id in sorted(set(grouped) | set(collections)):
        bad_id = _source_id_problem(base, source_id)
        if bad_id is not None:
            problems.append(bad_id)
            continue
        spec = CollectionFile()
        if source_id in collections:
            spec, found = _collection(files, collections[source_id])
            problems += found
        paths = grouped.get(source_id, [])
        if len(paths) > config.max_documents:
            problems.append(
                Problem(
                    f"{base}/{source_id}",
                    0,
                    0,
                    f"{len(paths):,} documents; the limit is {config.max_documents:,} per "
                    "folder ([knowledge] max_documents); none of them is indexed",
                    code="knowledge_too_large",
                )
            )
            continue
        documents = []
        for path in paths:
            document, refused = _document(files, path, config.max_document_bytes)
            if document is None:
                problems += refused
                continue
            total += len(document.text.encode())
            if total > config.max_total_bytes:
                problems.append(
                    Problem(
                        path,
                        0,
                        0,
                        f"the knowledge folder holds more than {config.max_total_bytes:,} "
                        "bytes ([knowledge] max_total_bytes); this and later documents are "
                        "not indexed",
                        code="knowledge_too_large",
                    )
                )
                break
            documents.append(document)
        folders[source_id] = KnowledgeFolder(
            source_id, f"{base}/{source_id}", spec, tuple(documents)
        )
        if total > config.max_total_bytes:
            break
    return folders, problems


class PersonaSources(Protocol):
    """What ``source_folder_problems`` reads of a loaded persona."""

    @property
    def path(self) -> str: ...

    @property
    def spec(self) -> Any: ...

    def line_of(self, key: str) -> int: ...


def source_folder_problems(
    personas: Iterable[PersonaSources],
    knowledge: dict[str, KnowledgeFolder],
    folder: str,
    remote_catalogue: bool,
) -> list[Problem]:
    """Warnings for the personas' active sources that the embedded catalogue has no
    knowledge for (no folder), or that their folder declares as another type."""
    problems = []
    for persona in personas:
        for source in persona.spec.sources:
            if source.status == "disabled":
                continue
            found = knowledge.get(source.id)
            declared = found.spec.type if found is not None else None
            if found is None and not remote_catalogue:
                message = (
                    f"source {source.type} '{source.id}' has no folder {folder}/{source.id}/; "
                    "the embedded catalogue has nothing to retrieve from it"
                )
            elif declared is not None and declared != source.type:
                message = (
                    f"source {source.type} '{source.id}': {folder}/{source.id}/collection.yaml "
                    f"declares type {declared}, so it is not indexed as a {source.type}"
                )
            else:
                continue
            problems.append(
                Problem(
                    persona.path,
                    persona.line_of("sources"),
                    1,
                    message,
                    code="knowledge_missing",
                    severity="warning",
                )
            )
    return problems
