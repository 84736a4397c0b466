"""Who a draft commit is by: a configured identity, else the MCP client's declared name.

The client's name (``clientInfo.name`` of ``initialize``) is whatever the peer
says, so it is sanitised before it goes into a commit header: control
characters, angle brackets and line breaks are dropped, whitespace collapsed,
the length bounded.  A configured identity (``PERSONAS_DRAFT_AUTHOR`` or the
``draft_author`` argument, then personas.toml ``[drafts] author``; ``Name <email>``
or ``Name``) wins over it; the client's name is then still recorded in a
``Draft-Client`` trailer.
"""

from __future__ import annotations

import os
import re

import git

AUTHOR_ENV = "PERSONAS_DRAFT_AUTHOR"
DEFAULT_NAME = "personas-mcp"
DEFAULT_EMAIL = "personas-mcp@localhost"
MAX_NAME_CHARS = 64
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>\u2028\u2029\u0085]")
_IDENTITY = re.compile(r"^\s*(?P<name>[^<>]*?)\s*(?:<(?P<email>[^<>\s]+)>)?\s*$")


def clean_name(text: str | None, limit: int = MAX_NAME_CHARS) -> str | None:
    """``text`` fit for a git author name (no newlines, no angle brackets, bounded), or
    None when nothing is left."""
    if not isinstance(text, str):
        return None
    cleaned = " ".join(_UNSAFE.sub(" ", text[: limit * 4]).split())[:limit].strip()
    return cleaned or None


def parse_identity(text: str) -> git.Actor | None:
    """``Name <email>`` or ``Name`` as an actor; None when it is neither."""
    match = _IDENTITY.match(text.replace("\n", " "))
    if match is None:
        return None
    name = clean_name(match["name"])
    email = clean_name(match["email"], 254) if match["email"] else DEFAULT_EMAIL
    if name is None or email is None:
        return None
    return git.Actor(name, email)


class DraftAuthors:
    """The actor and trailers of draft commits."""

    def __init__(self, configured: str | None = None) -> None:
        text = configured if configured is not None else os.environ.get(AUTHOR_ENV)
        self.configured = parse_identity(text) if text else None

    def actor(self, client: str | None, repo_identity: str | None = None) -> git.Actor:
        """The configured identity (argument or environment, then the repo's ``[drafts]
        author``), else the client's declared name, else personas-mcp."""
        if self.configured is not None:
            return self.configured
        from_repo = parse_identity(repo_identity) if repo_identity else None
        if from_repo is not None:
            return from_repo
        name = clean_name(client)
        return git.Actor(name, DEFAULT_EMAIL) if name else git.Actor(DEFAULT_NAME, DEFAULT_EMAIL)

    @staticmethod
    def trailers(client: str | None) -> dict[str, str]:
        """``Draft-Client: <name>`` when the client declared a name."""
        name = clean_name(client)
        return {"Draft-Client": name} if name else {}
