"""The schema modeline of a generated file, pointing at where the schema is in the repo.

A persona repo keeps the JSON Schemas in ``schemas/`` at its root (``personas init``
and ``personas schema --write`` put them there), so a file's modeline is the path
from the file's own folder to that folder: ``personas/x.yaml`` gets
``../schemas/persona.schema.json``, ``team/personas/a/x.yaml`` gets
``../../../schemas/persona.schema.json``.  Every writer of persona files
(import, MCP drafts, init) asks here.
"""

from __future__ import annotations

import posixpath

SCHEMAS_DIR = "schemas"
PERSONA_SCHEMA = "persona.schema.json"
PERSONA_TESTS_SCHEMA = "persona-tests.schema.json"
TEST_PERSONA_SCHEMA = "test-persona.schema.json"
COLLECTION_SCHEMA = "collection.schema.json"
CONFIG_SCHEMA = "config.schema.json"
SCHEMA_FILES = (
    PERSONA_SCHEMA,
    CONFIG_SCHEMA,
    TEST_PERSONA_SCHEMA,
    PERSONA_TESTS_SCHEMA,
    COLLECTION_SCHEMA,
)


def _plain(rel_path: str) -> str:
    """``rel_path`` as a normalised repo-relative POSIX path; ValueError when it leaves."""
    path = posixpath.normpath(rel_path.replace("\\", "/").lstrip("/"))
    if path == ".." or path.startswith("../"):
        raise ValueError(f"{rel_path!r} is outside the repo")
    return path


def schema_ref(file_path: str, schema_file: str = PERSONA_SCHEMA) -> str:
    """The path of ``schemas/<schema_file>`` relative to the folder of ``file_path``
    (a repo-relative path of the file that will carry the modeline)."""
    folder = posixpath.dirname(_plain(file_path)) or "."
    return posixpath.relpath(f"{SCHEMAS_DIR}/{schema_file}", folder)


def modeline(file_path: str, schema_file: str = PERSONA_SCHEMA) -> str:
    """The comment text (without ``#``) that tells yaml-language-server the file's schema."""
    return f"yaml-language-server: $schema={schema_ref(file_path, schema_file)}"


def modeline_comment(file_path: str, schema_file: str = PERSONA_SCHEMA) -> str:
    """The whole first line of a YAML file at ``file_path``, newline included."""
    return f"# {modeline(file_path, schema_file)}\n"
