"""Write a file below a root folder without ever following a symlink on the way.

Each folder of the path is opened (created when missing) relative to its parent
with ``O_NOFOLLOW``, so a symlinked folder anywhere below the root is refused
instead of followed; the data goes to a fresh temp file (``O_EXCL``) in the
final folder, which is then renamed over the target: a symlink at the target is
replaced, never written through, and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from personas_as_code.schemas.errors import WriteRefused

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def _check_parts(rel_path: str) -> list[str]:
    parts = rel_path.split("/")
    if (
        not rel_path
        or "\x00" in rel_path
        or "\\" in rel_path
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise WriteRefused(f"refusing to write {rel_path!r}: not a plain relative path")
    return parts


def _open_folder(parent: int, name: str, shown: str, rel_path: str) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o755, dir_fd=parent)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WriteRefused(
                f"refusing to write {rel_path!r}: {shown!r} is a symlink or a file, not a folder"
            ) from None
        raise


def write_inside(root: Path, rel_path: str, data: bytes) -> Path:
    """Write ``data`` to ``root/rel_path``, creating folders; ``WriteRefused`` when any
    folder below ``root`` is a symlink or a file, or the target is a folder."""
    parts = _check_parts(rel_path)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for depth, name in enumerate(parts[:-1], start=1):
            inner = _open_folder(fd, name, "/".join(parts[:depth]), rel_path)
            os.close(fd)
            fd = inner
        name = parts[-1]
        temp = f".{name[:80]}.{secrets.token_hex(6)}.tmp"
        out = os.open(temp, _FILE_FLAGS, 0o644, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as handle:
                handle.write(data)
            os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)
            if isinstance(exc, IsADirectoryError | NotADirectoryError):
                raise WriteRefused(f"refusing to write {rel_path!r}: it is a folder") from None
            raise
    finally:
        os.close(fd)
    return root / rel_path
