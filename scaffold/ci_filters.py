"""The path filters of the persona workflows and the pre-commit hook, from ``personas.toml``.

GitHub decides whether a workflow runs from its ``paths:`` list, and pre-commit whether a
hook runs from its ``files:`` pattern; neither can read ``personas.toml``.  So the lists
are written from it: every folder the config names (``personas_dir``, whose prompts,
avatars and ``*.tests.yaml`` sit inside it in the layout init writes; the ``[knowledge]``
folder; the ``[test_personas]`` dir), the ``schemas/`` folder, ``personas.toml`` itself,
and the folder of any prompt or avatar a persona keeps elsewhere.

``personas init`` renders the templates with them; ``personas init --update-filters``
rewrites only those lists in a repo's existing files, after a folder moved.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from personas_as_code.loader.modeline import SCHEMAS_DIR
from personas_as_code.schemas.config import CONFIG_FILE, RepoConfig
from personas_as_code.schemas.errors import ConfigError, WriteRefused
from personas_as_code.schemas.simulated_user_config import TEST_PERSONAS_DIR
from personas_as_code.sync.safe_write import write_inside

WORKFLOWS_DIR = ".github/workflows"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
HOOK_ID = "personas-validate"
# The workflows whose triggers have a paths: list (the drift check runs on a schedule).
FILTERED_WORKFLOWS = ("personas-plan.yml", "personas-apply.yml")

_PATHS_KEY = re.compile(r"^[ ]*(?:- )?paths(?:-ignore)?[ ]*:", re.M)
_PATHS_BLOCK = re.compile(r"^(?P<indent>[ ]+)paths:\n(?P<items>(?:(?P=indent)  - .*\n)+)", re.M)
_HOOK_LINE = re.compile(rf"^[ ]*- id:[ ]*(['\"]?){HOOK_ID}\1[ ]*(#.*)?$")
_GLOB_SPECIAL = set("*?+[]\\")
MAX_FILE_BYTES = 1024 * 1024  # a workflow or pre-commit config larger than this is not ours
_REGEX_SPECIAL = set("\\.^$*+?{}[]|()")


@dataclass(frozen=True)
class Watched:
    """What the workflows and the hook watch: folders and single files, repo-relative;
    ``"."`` as a folder means the whole repo."""

    folders: tuple[str, ...]
    files: tuple[str, ...]

    def globs(self, workflow_file: str | None = None) -> list[str]:
        """The ``paths:`` patterns (GitHub's glob syntax), the workflow's own file last."""
        if "." in self.folders:
            return ["**"]
        files = [*self.files, *([workflow_file] if workflow_file else [])]
        return [f"{_glob_literal(folder)}/**" for folder in self.folders] + [
            _glob_literal(name) for name in files
        ]

    def files_regex(self) -> str:
        """The pre-commit ``files:`` pattern (a Python regex searched in each path)."""
        if "." in self.folders:
            return ""  # pre-commit's default: every file
        parts = [f"{_regex_literal(folder)}/" for folder in self.folders]
        parts += [f"{_regex_literal(name)}$" for name in self.files]
        return f"^({'|'.join(parts)})"


def _glob_literal(path: str) -> str:
    escaped = "".join(f"\\{c}" if c in _GLOB_SPECIAL else c for c in path)
    return f"\\{escaped}" if escaped.startswith("!") else escaped


def _regex_literal(path: str) -> str:
    return "".join(f"\\{c}" if c in _REGEX_SPECIAL else c for c in path)


def repo_path(value: str, setting: str) -> str:
    """``value`` (a folder from personas.toml) as a normalised repo-relative path;
    ``ConfigError`` for one that is absolute, leaves the repo or holds control characters."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{setting} {value!r} holds a control character")
    path = posixpath.normpath(value) if value else "."
    if path.startswith("/") or path == ".." or path.startswith("../"):
        raise ConfigError(f"{setting} {value!r} is not a folder inside the repo")
    return path


def _covered(path: str, folders: Iterable[str]) -> bool:
    return any(f in (".", path) or path.startswith(f"{f}/") for f in folders)


def watched(config: RepoConfig, referenced: Iterable[str] = ()) -> Watched:
    """The folders and files of this config's repo; ``referenced`` are repo files personas
    point at (prompts, avatars): the folder of one outside the named folders is added."""
    section = config.test_personas
    named = [
        repo_path(config.repo.personas_dir, "[repo] personas_dir"),
        repo_path(config.knowledge.folder, "[knowledge] folder"),
    ]
    if section is None or section.enabled:
        directory = section.dir if section else TEST_PERSONAS_DIR
        named.append(repo_path(directory, "[test_personas] dir"))
    named.append(SCHEMAS_DIR)
    files = [CONFIG_FILE]
    for ref in sorted(set(referenced)):
        folder = posixpath.dirname(ref)
        if folder:
            named.append(folder)
        elif ref not in files:
            files.append(ref)
    folders: list[str] = []
    for folder in named:  # the config's order, a folder inside another one dropped
        if not _covered(folder, folders):
            folders = [f for f in folders if not _covered(f, [folder])] + [folder]
    files = [name for name in files if not _covered(name, folders)]
    return Watched(tuple(folders), tuple(files))


def render_workflow(text: str, patterns: list[str], name: str) -> str:
    """``text`` with the items of its one ``paths:`` list replaced by ``patterns``."""
    keys = _PATHS_KEY.findall(text)
    blocks = list(_PATHS_BLOCK.finditer(text))
    if len(keys) != 1 or len(blocks) != 1:
        raise WriteRefused(
            f"{name}: found {len(keys)} 'paths' keys where one block list was expected; "
            "edit its paths by hand (docs/gitops.md); nothing written"
        )
    block = blocks[0]
    indent = block["indent"] + "  "
    items = "".join(f"{indent}- {json.dumps(p)}\n" for p in patterns)
    return text[: block.start("items")] + items + text[block.end("items") :]


def render_pre_commit(text: str, regex: str) -> str:
    """``text`` (a .pre-commit-config.yaml) with the ``files:`` of the personas-validate
    hook set to ``regex``; the key is added when the hook has none."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _HOOK_LINE.match(line)]
    if len(starts) != 1:
        raise WriteRefused(
            f"{PRE_COMMIT_CONFIG}: found {len(starts)} '- id: {HOOK_ID}' lines where one was "
            "expected; set its files: by hand (docs/gitops.md); nothing written"
        )
    start = starts[0]
    column = lines[start].index("id:")
    value = "'" + regex.replace("'", "''") + "'"  # a YAML single-quoted scalar
    new = f"{' ' * column}files: {value}\n"
    end = start + 1
    while end < len(lines):
        line = lines[end]
        width = len(line) - len(line.lstrip(" "))
        if line.strip() and not line.lstrip().startswith("#") and width < column:
            break
        if width == column and line.lstrip().startswith("files:"):
            return "".join([*lines[:end], new, *lines[end + 1 :]])
        end += 1
    return "".join([*lines[: start + 1], new, *lines[start + 1 :]])


def render(target: str, text: str, filters: Watched) -> str:
    """A template or repo file (by its repo path) with its filters set from ``filters``;
    any other file unchanged."""
    folder, _, name = target.rpartition("/")
    if folder == WORKFLOWS_DIR and name in FILTERED_WORKFLOWS:
        return render_workflow(text, filters.globs(target), target)
    if target == PRE_COMMIT_CONFIG:
        return render_pre_commit(text, filters.files_regex())
    return text


def repo_filters(root: Path) -> Watched:
    """The filters of the repo at ``root``: its config (``ConfigError`` when missing or
    invalid), and the prompts and avatars its valid personas point at."""
    # imported on use: loading personas is only needed here, not when init renders
    from personas_as_code.loader.repo import load_repo

    if not (root / CONFIG_FILE).is_file():
        raise ConfigError(f"{root / CONFIG_FILE} not found: not a persona repo (personas init)")
    repo = load_repo(root, with_knowledge=False)
    broken = [p for p in repo.problems if p.path == CONFIG_FILE and p.severity == "error"]
    if broken:
        raise ConfigError(f"{broken[0]}; the filters follow {CONFIG_FILE}, so fix it first")
    referenced = [ref for p in repo.personas.values() for ref in p.referenced_files[1:]]
    return watched(repo.config, referenced)


def update_filters(root: Path) -> list[str]:
    """Rewrite the path filters of the persona workflows and ``.pre-commit-config.yaml``
    in ``root`` from its config; the repo paths that changed.  Every file is rendered
    before the first is written, so a file that cannot be rewritten leaves all as they were.
    """
    filters = repo_filters(root)
    targets = [f"{WORKFLOWS_DIR}/{name}" for name in FILTERED_WORKFLOWS] + [PRE_COMMIT_CONFIG]
    links = [t for t in targets if (root / t).is_symlink()]
    if links:
        raise WriteRefused(f"{', '.join(links)}: a symlink, not rewritten; nothing written")
    present = [t for t in targets if (root / t).is_file()]
    if not present:
        raise WriteRefused(f"none of {', '.join(targets)} is in {root}; personas init writes them")
    changed = {}
    for target in present:
        if (root / target).stat().st_size > MAX_FILE_BYTES:
            raise WriteRefused(f"{target} is over {MAX_FILE_BYTES} bytes; nothing written")
        try:
            text = (root / target).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WriteRefused(f"{target} is not UTF-8; nothing written") from None
        rendered = render(target, text, filters)
        if rendered != text:
            changed[target] = rendered
    for target, text in changed.items():
        write_inside(root, target, text.encode("utf-8"))
    return sorted(changed)
