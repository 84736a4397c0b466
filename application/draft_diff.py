"""The changed paths and unified diff of one commit's files against another's."""

from __future__ import annotations

import difflib

from personas_as_code.application.commit_files import CommitFiles


def read_or_none(files: CommitFiles, path: str) -> bytes | None:
    """The content of ``path`` in ``files``, or None."""
    try:
        return files.read(path)
    except (FileNotFoundError, OSError, ValueError):
        return None


def unified_diff(old_files: CommitFiles, new_files: CommitFiles) -> tuple[list[str], str]:
    """Changed paths and a unified diff of ``new_files`` against ``old_files``."""
    paths = sorted({p for p, _ in old_files.entries.items() ^ new_files.entries.items()})
    chunks = []
    for path in paths:
        old, new = read_or_none(old_files, path), read_or_none(new_files, path)
        try:
            old_text = (old or b"").decode("utf-8")
            new_text = (new or b"").decode("utf-8")
        except UnicodeDecodeError:
            chunks.append(f"Binary files a/{path} and b/{path} differ\n")
            continue
        chunks.extend(
            difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    text = "".join(
        c if c.endswith("\n") else c + "\n\\ No newline at end of file\n" for c in chunks
    )
    return paths, text
