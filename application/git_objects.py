"""Blobs, trees and commits written straight into a repository's object database.

Objects are stored as loose objects in-process (the repo's odb would spawn
``git hash-object``).  A tree is rewritten only along the changed paths: every
other entry keeps its object id, and the entries of the trees read are memoised
(trees are immutable).
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

import git
from gitdb.base import IStream
from gitdb.db import LooseObjectDB
from personas_as_code.application.commit_files import REGULAR_MODES, CommitFiles

FILE_MODE = 0o100644
_TREE = b"40000"
_FILE_MODES = (b"100644", b"100755")
# one entry of a raw git tree object: "<mode> <name>\0<20-byte id>"
_TREE_ENTRY = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.DOTALL)

TreeEntries = dict[bytes, tuple[bytes, bytes]]  # name -> (mode, object id)


class ObjectWriter:
    """Write blobs, trees and commits of ``repo`` without touching its work tree or index."""

    def __init__(self, repo: git.Repo) -> None:
        self.repo = repo
        self._loose = LooseObjectDB(os.path.join(repo.common_dir, "objects"))
        self._trees: OrderedDict[bytes, TreeEntries] = OrderedDict()
        self._lock = threading.Lock()

    def store(self, kind: str, data: bytes) -> bytes:
        """Store one object of ``kind``; its binary id."""
        return self._loose.store(IStream(kind, len(data), io.BytesIO(data))).binsha

    def tree_of(self, commit: str) -> bytes:
        """The root tree id of ``commit``."""
        data = self.repo.odb.stream(bytes.fromhex(commit)).read()
        return bytes.fromhex(data[5:45].decode("ascii"))

    def _entries(self, binsha: bytes) -> TreeEntries:
        """The entries of tree ``binsha`` (memoised)."""
        with self._lock:
            entries = self._trees.get(binsha)
        if entries is None:
            data = self.repo.odb.stream(binsha).read()
            entries = {name: (mode, sha) for mode, name, sha in _TREE_ENTRY.findall(data)}
            self._remember(binsha, entries)
        return entries

    def _remember(self, binsha: bytes, entries: TreeEntries) -> None:
        with self._lock:
            self._trees[binsha] = entries
            self._trees.move_to_end(binsha)
            while len(self._trees) > 64:
                self._trees.popitem(last=False)

    def write_tree(
        self, binsha: bytes | None, changes: dict[tuple[str, ...], bytes | None]
    ) -> bytes | None:
        """Tree ``binsha`` with ``changes`` (path parts -> blob id, None: delete) applied.

        Only the trees on the changed paths are rewritten; every other entry keeps
        its object id.  None when the tree ends up empty (git has no empty folders).
        """
        entries = dict(self._entries(binsha)) if binsha is not None else {}
        # entries keep git's order; only a new name, or one that changes between file and
        # folder (git sorts a folder as if its name ended in '/'), makes a sort necessary
        moved = binsha is None
        nested: dict[bytes, dict[tuple[str, ...], bytes | None]] = {}
        for parts, blob in changes.items():
            name = parts[0].encode("utf-8")
            if len(parts) > 1:
                nested.setdefault(name, {})[parts[1:]] = blob
            elif blob is None:
                entries.pop(name, None)
            else:
                old = entries.get(name)
                moved = moved or old is None or old[0] == _TREE
                mode = old[0] if old and old[0] in _FILE_MODES else b"100644"
                entries[name] = (mode, blob)
        for name, sub in nested.items():
            old = entries.get(name)
            subtree = self.write_tree(old[1] if old and old[0] == _TREE else None, sub)
            if subtree is None:
                entries.pop(name, None)
            else:
                moved = moved or old is None or old[0] != _TREE
                entries[name] = (_TREE, subtree)
        if not entries:
            return None
        ordered: Iterable[tuple[bytes, tuple[bytes, bytes]]] = entries.items()
        if moved:
            ordered = sorted(ordered, key=_git_tree_order)
        body = b"".join(mode + b" " + name + b"\0" + sha for name, (mode, sha) in ordered)
        tree = self.store("tree", body)
        self._remember(tree, entries)
        return tree

    def commit(self, tree: bytes, parent: str, message: str, actor: git.Actor) -> tuple[str, int]:
        """Store a commit of ``tree`` on ``parent`` by ``actor``; its sha and time."""
        now = int(time.time())
        offset = time.localtime(now).tm_gmtoff
        zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 3600:02d}{abs(offset) // 60 % 60:02d}"
        who = f"{actor.name} <{actor.email}> {now} {zone}"
        text = f"tree {tree.hex()}\nparent {parent}\nauthor {who}\ncommitter {who}\n\n{message}"
        return self.store("commit", text.encode("utf-8")).hex(), now


def _git_tree_order(item: tuple[bytes, tuple[bytes, bytes]]) -> bytes:
    """The key git sorts tree entries by: a folder's name as if it ended in '/'."""
    return item[0] + b"/" if item[1][0] == _TREE else item[0]


def listing_changes(
    parent: CommitFiles, blobs: dict[str, bytes | None]
) -> dict[str, tuple[int, str] | None]:
    """What a commit of ``blobs`` (path -> blob id, None: deleted) changes in ``parent``'s
    listing: the mode ``write_tree`` keeps, and the new blob id."""
    out: dict[str, tuple[int, str] | None] = {}
    for path, blob in blobs.items():
        old = parent.entries.get(path)
        mode = old[0] if old and old[0] in REGULAR_MODES else FILE_MODE
        out[path] = None if blob is None else (mode, blob.hex())
    return out
