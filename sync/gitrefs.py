"""The one way a git ref a user gives (``--baseline``, ``--changed-since``, a draft's
base) becomes a commit.

git itself resolves the ref (``git rev-parse --verify``), so ``HEAD~1``, ``main@{2}``,
``@{-1}`` and ``main@{yesterday}`` mean what they mean to git.  Anything that is not
exactly one commit is a ``ConfigError`` that says why, never a traceback: a reflog
entry past the end of the reflog, a date older than the reflog (git would silently
take its oldest entry), ``@{-1}`` with no previous branch, a tree or a blob, an
ambiguous name, a malformed ref, a ref starting with ``-`` (an option to git).

Here in ``sync`` (not ``sandbox``) because ``sync.gitinfo.changed_since`` needs it and
the layers only import downwards.
"""

from __future__ import annotations

import re

import git
from personas_as_code.schemas.errors import ConfigError

MAX_REF_CHARS = 256
_PREVIOUS_BRANCH = re.compile(r"@\{-\d+\}")
_ENTRIES = re.compile(r"only has (\d+) entr")
_GOES_BACK = re.compile(r"only goes back to (.+)$")
_OBJECT_TYPE = re.compile(r"dereferences to (\w+) type")


def resolve_commit(repo: git.Repo, ref: str, option: str) -> git.Commit:
    """The commit ``ref`` names in ``repo``; ``ConfigError`` when it names none.

    ``option`` starts the message (``--baseline``), so the user knows which input
    was wrong: ``--baseline: 'HEAD@{100}' is not a commit in this repository (the
    reflog has only 3 entries)``.
    """
    why = _malformed(ref)
    if why is None:
        status, out, err = repo.git.execute(
            ["git", "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"],
            with_extended_output=True,
            with_exceptions=False,
        )
        sha = str(out).strip()
        # these warnings mean git guessed: a name with several meanings, a date before
        # the reflog began (git takes the oldest entry)
        guessed = "ambiguous" in str(err) or "only goes back to" in str(err)
        if status == 0 and not guessed and re.fullmatch(r"[0-9a-f]{40,64}", sha):
            return repo.commit(sha)
        why = _reason(ref, str(err)) or _other_object(repo, ref)
    raise ConfigError(f"{option}: {_shown(ref)} is not a commit in this repository ({why})")


def _malformed(ref: str) -> str | None:
    """Why ``ref`` cannot be a ref at all, before asking git; None when it may be one."""
    if not ref.strip():
        return "an empty ref"
    if ref.startswith("-"):
        return "a ref cannot start with '-'"
    if len(ref) > MAX_REF_CHARS:
        return f"longer than {MAX_REF_CHARS} characters"
    if not ref.isprintable():
        return "it holds control characters"
    return None


def _reason(ref: str, stderr: str) -> str | None:
    """A short reason from git's own words (English: GitPython runs git with LC_ALL=C)."""
    said = [
        line.split(":", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith(("fatal:", "error:", "warning:"))
    ]
    text = " ".join(said)
    if found := _ENTRIES.search(text):
        return f"the reflog has only {found.group(1)} entries"
    if found := _GOES_BACK.search(said[0] if said else ""):
        return f"the reflog only goes back to {found.group(1)[:60]}"
    if "ambiguous" in text:
        return "the name is ambiguous: more than one branch, tag or object has it"
    if found := _OBJECT_TYPE.search(text):
        return f"it names a {found.group(1)}, not a commit"
    if _PREVIOUS_BRANCH.search(ref):
        return "no branch was checked out that many switches ago"
    meaningful = [s for s in said if s != "Needed a single revision"]
    return meaningful[0][:200] if meaningful else None


def _other_object(repo: git.Repo, ref: str) -> str:
    """What ``ref`` names when it is no commit (``HEAD:README.md`` is a blob)."""
    status, out, _err = repo.git.execute(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", ref],
        with_extended_output=True,
        with_exceptions=False,
    )
    if status == 0 and out.strip():
        kind = repo.git.execute(
            ["git", "cat-file", "-t", out.strip()], with_extended_output=True, with_exceptions=False
        )[1].strip()
        if kind in ("blob", "tree", "tag"):
            return f"it names a {kind}, not a commit"
    return "no branch, tag or commit has that name"


def _shown(ref: str) -> str:
    """``ref`` quoted for a message (escaped, shortened)."""
    return repr(ref if len(ref) <= 80 else ref[:80] + "…")
