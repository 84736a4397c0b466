"""The parse cache's file on disk: signed with the user's key, tied to the code that
wrote it, and written only where the repo reaches it without a link.

A cache file is trusted only when its HMAC verifies with the key in the user's cache
folder (outside any repo, so a committed cache cannot be forged) and its header names
this version of the code: the loader, the shapes it validates against and the hostile-input
parsers, and the versions of the libraries that parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import personas_as_code.loader
import personas_as_code.schemas
import personas_as_code.untrusted
from personas_as_code.loader.distributions import installed_version

FORMAT = 2
MAC_CHARS = 64  # the file ends with the hex HMAC-SHA256 of everything before it
KEY_BYTES = 32
CODE: tuple[ModuleType, ...] = (
    personas_as_code.loader,
    personas_as_code.schemas,
    personas_as_code.untrusted,
)
"""The packages whose code decides what a cached load holds."""


def reached_directly(root: Path, path: Path) -> bool:
    """True when ``path`` lies inside ``root`` and nothing from ``root`` down to it is a
    symlink: a repo that commits ``.personas`` as a link must not make us write elsewhere."""
    try:
        inside = path.relative_to(root)
    except ValueError:
        return False
    here = root
    for part in inside.parts:
        here = here / part
        if here.is_symlink():
            return False
    return True


def write_signed(path: Path, key: bytes, lines: Iterator[bytes]) -> None:
    """Write ``lines`` then their HMAC to a temporary file renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        mac = hmac.new(key, digestmod=hashlib.sha256)
        with os.fdopen(fd, "wb") as stream:
            for line in lines:
                mac.update(line)
                stream.write(line)
            stream.write(mac.hexdigest().encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_HEADER: dict[str, Any] | None = None


def header() -> dict[str, Any]:
    """The tool version and a fingerprint of the code that produced the results."""
    global _HEADER
    if _HEADER is None:
        digest = hashlib.sha256()
        for package in CODE:
            folder = Path(package.__file__ or "").resolve().parent
            for source in sorted(folder.glob("*.py")) + sorted(folder.glob("*.json")):
                name = f"{package.__name__}/{source.name}"
                digest.update(name.encode() + b"\0" + source.read_bytes() + b"\0")
        for dist in ("personas-as-code", "pydantic", "pydantic-core", "ruamel.yaml"):
            digest.update(f"{dist}={installed_version(dist)}\0".encode())
        digest.update(sys.version.encode())
        _HEADER = {"format": FORMAT, "code": digest.hexdigest()}
    return _HEADER


def key_file() -> Path:
    """Where the HMAC key of cache files lives: the user's cache folder, outside any repo."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "personas-as-code" / "parse-cache.key"


def secret_key(*, create: bool) -> bytes | None:
    """The user's HMAC key (made once, atomically, when ``create``), or None."""
    path = key_file()
    with contextlib.suppress(OSError):
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
        if not create:
            return None
        path.unlink()  # a damaged key: its caches are not trusted anyway
    if not create:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key.")
        with os.fdopen(fd, "wb") as stream:
            stream.write(secrets.token_bytes(KEY_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # the first writer wins; everyone then reads its key
        os.unlink(tmp)
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None
