"""The persona has one shape: what is derived from it agrees, and a forgotten step of
"Adding a persona field" (docs/architecture.md) fails here.

The file model's keys (``schemas.persona.PersonaFile`` with a ``FileKey`` each), the
catalogue's fields (``catalogue.api.PersonaBase``) and the mapping between them
(``catalogue.persona_mapping``) are declared by hand; everything else is derived and
checked here: the request, response and update models and the table row, the draft
tool's arguments, the YAML key order and the export columns.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from personas_as_code.application.export import COLUMNS, row
from personas_as_code.application.yaml_edit import KEY_ORDER
from personas_as_code.catalogue.api import (
    Persona,
    PersonaBase,
    PersonaCreate,
    PersonaFields,
    PersonaUpdate,
)
from personas_as_code.catalogue.db import PersonaRow
from personas_as_code.catalogue.persona_mapping import (
    CLEARABLE_EQUIVALENTS,
    FIELDS,
    UNCLEARABLE_FIELDS,
    api_fields,
    file_document,
)
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.mcp_server.tools_drafts import build_patch
from personas_as_code.schemas.file_keys import FileKey
from personas_as_code.schemas.persona import (
    PersonaFile,
    SourceInput,
    draft_arguments,
    export_columns,
    file_keys,
    key_order,
)
from personas_as_code.sync.importer import dump_yaml
from personas_as_code.sync.normalize import comparable
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML

PERSONA_FIELDS = set(PersonaFields.model_fields)

# The persona columns the first catalogue schema created.  A column added since may be
# missing from an existing catalogue, and ``db.create_schema`` adds only nullable ones.
FIRST_COLUMNS = {
    "name",
    "slug",
    "model_slug",
    "system_prompt",
    "rag_enabled",
    "rag_strategy",
    "rag_top_k",
    "rag_min_score",
    "rag_context_template",
    "rag_status_messages",
    "status_messages_mode",
    "default_params",
    "status",
}


def test_every_file_key_says_what_it_is_to_the_house() -> None:
    missing = [
        name
        for name, info in PersonaFile.model_fields.items()
        if sum(isinstance(m, FileKey) for m in info.metadata) != 1
    ]
    assert missing == [], "declare each PersonaFile key as Annotated[type, FileKey(...)]"
    assert list(file_keys()) == list(PersonaFile.model_fields)


def test_the_file_keys_feed_every_api_field_and_only_those() -> None:
    fed = {api for key in file_keys().values() for api in key.api}
    assert fed - PERSONA_FIELDS == set(), "a FileKey names a field catalogue.api lacks"
    assert PERSONA_FIELDS - fed == set(), "an API field no file key feeds (FileKey.api)"


def test_the_mapping_reads_every_api_field_from_the_file() -> None:
    assert set(FIELDS) == PERSONA_FIELDS, "catalogue.persona_mapping.FROM_FILE"


def test_a_file_can_drop_every_optional_field() -> None:
    """PUT ignores nulls: a field that defaults to None needs a value meaning 'nothing'
    (``CLEARABLE_EQUIVALENTS``) or a plan warning (``UNCLEARABLE_FIELDS``), or dropping
    it from the file would be planned as an update on every run."""
    optional = {
        name
        for name, info in PersonaFields.model_fields.items()
        if not info.is_required() and info.get_default(call_default_factory=True) is None
    }
    handled = set(CLEARABLE_EQUIVALENTS) | set(UNCLEARABLE_FIELDS)
    assert optional - handled == set(), "catalogue.persona_mapping.CLEARABLE_EQUIVALENTS"
    assert handled <= PERSONA_FIELDS


def test_create_read_update_and_row_carry_the_same_persona_fields() -> None:
    assert set(PersonaCreate.model_fields) == PERSONA_FIELDS
    assert set(PersonaUpdate.model_fields) == PERSONA_FIELDS
    assert set(Persona.model_fields) >= PERSONA_FIELDS
    # SQLAlchemy reserves ``metadata`` on a table: the row calls it ``metadata_``
    row_fields = {"metadata" if f == "metadata_" else f for f in PersonaRow.model_fields}
    assert row_fields >= PERSONA_FIELDS
    assert set(PersonaBase.model_fields) == PERSONA_FIELDS - {"metadata"}


def test_the_update_body_takes_every_field_as_optional() -> None:
    assert all(not info.is_required() for info in PersonaUpdate.model_fields.values())
    assert PersonaUpdate().model_dump(exclude_none=True) == {}


def test_a_column_an_existing_catalogue_may_lack_is_nullable() -> None:
    table = PersonaRow.__table__  # type: ignore[attr-defined]
    not_null = {name for name in PersonaBase.model_fields if not table.c[name].nullable}
    assert not_null <= FIRST_COLUMNS, "give a new column nullable=True (or make it optional)"


def _core(annotation: Any) -> Any:
    """The type inside ``Annotated`` and ``X | None``."""
    if get_origin(annotation) is Annotated:
        return _core(get_args(annotation)[0])
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        return _core(args[0])
    return annotation


def _sample(name: str, info: FieldInfo) -> Any:
    """A valid value of an API persona field that is not its default."""
    kind = _core(info.annotation)
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    if get_origin(kind) is Literal:
        return [member for member in get_args(kind) if member != default][-1]
    if kind is bool:
        return not default
    if kind is int:
        return (default or 0) + 1
    if kind is float:
        return 0.5
    if kind is str:
        # a required string may be a slug; an optional one may be a context template
        return f"sample-{name.replace('_', '-')}" if info.is_required() else "Use $context\nwell"
    if get_origin(kind) is dict:
        return {"sample": "value"}
    raise AssertionError(f"no sample value for {name} ({kind}): extend _sample")


def _samples() -> dict[str, Any]:
    return {name: _sample(name, info) for name, info in PersonaFields.model_fields.items()}


def _loaded(text: str, slug: str) -> LoadedPersona:
    spec = PersonaFile.model_validate(YAML(typ="safe").load(text))
    return LoadedPersona(
        slug=slug,
        path=f"personas/{slug}.yaml",
        spec=spec,
        system_prompt=spec.system_prompt or "",
        prompt_path=None,
        avatar=None,
        file_sha256="",
    )


def test_a_persona_survives_api_to_file_and_back() -> None:
    """Every API field, set to a value that is not its default, is written to the file by
    ``file_document`` and read back by ``FROM_FILE``."""
    samples = _samples()
    persona = Persona(id="per_1", **samples)
    text = dump_yaml(file_document(persona, metadata=persona.metadata, groups=[], avatar=None))
    back = api_fields(_loaded(text, persona.slug))
    lost = {
        name: (value, back[name])
        for name, value in samples.items()
        if comparable(name, back[name]) != comparable(name, value)
    }
    assert lost == {}, f"lost between the API and the file:\n{text}"


def test_the_yaml_key_order_covers_every_file_key_once() -> None:
    assert sorted(KEY_ORDER) == sorted(PersonaFile.model_fields)
    assert key_order() == KEY_ORDER


def test_every_draft_argument_lands_in_the_patch_under_its_key() -> None:
    values = {"set": "x", "merge": {"k": 1}, "sources": [SourceInput(type="collection", id="c")]}
    for name, draft in draft_arguments().items():
        patch = build_patch({name: values[draft.how]}, None)
        landed = name in patch.set or name in patch.merge or patch.sources is not None
        assert landed, name
    assert set(draft_arguments()) <= set(PersonaFile.model_fields)


def test_the_export_columns_are_the_file_keys_then_the_path() -> None:
    names = [column.name for column in export_columns()]
    assert len(set(names)) == len(names)
    assert list(COLUMNS) == [*names, "path"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_export_cell_reads_a_persona(fmt: str) -> None:
    persona = Persona(id="per_1", **_samples())
    text = dump_yaml(file_document(persona, metadata=persona.metadata, groups=[], avatar=None))
    cells = row(_loaded(text, persona.slug))
    assert list(cells) == list(COLUMNS)
    assert all(isinstance(value, str | int | float | bool) for value in cells.values())
