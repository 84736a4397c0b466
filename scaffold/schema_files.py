"""The JSON Schema files a persona repo keeps in ``schemas/``, as shipped in the package.

The texts are the committed ``*.schema.json`` files of ``personas_as_code.schemas``
(package data), so an adopter repo holds exactly what this release validates against.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from personas_as_code.loader.modeline import SCHEMA_FILES, SCHEMAS_DIR
from personas_as_code.schemas.config import CONFIG_FILE
from personas_as_code.schemas.errors import ConfigError
from personas_as_code.sync.safe_write import write_inside


def packaged_schemas() -> dict[str, bytes]:
    """``schemas/<name>`` -> the schema's bytes, for every schema of the file formats."""
    package = resources.files("personas_as_code.schemas")
    return {f"{SCHEMAS_DIR}/{name}": package.joinpath(name).read_bytes() for name in SCHEMA_FILES}


def write_schemas(root: Path) -> list[str]:
    """(Re)write the schema files into ``root/schemas/``; the repo paths written.

    ``root`` must be a persona repo (hold ``personas.toml``), so a mistyped path does
    not scatter schema files; a symlinked ``schemas`` folder is refused, not followed.
    """
    if not (root / CONFIG_FILE).is_file():
        raise ConfigError(f"{root / CONFIG_FILE} not found: not a persona repo (personas init)")
    written = []
    for rel, data in packaged_schemas().items():
        write_inside(root, rel, data)
        written.append(rel)
    return written
