"""``personas import`` checks every slug and avatar from the catalogue before writing.

The catalogue is our REST app on a loopback port, reached like a remote
ScaiGrid (``SCAIGRID_HOST``); hostile rows are inserted straight into its
database, past the API's validation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from personas_as_code.catalogue.api import PersonaCreate
from personas_as_code.catalogue.db import AvatarRow, PersonaRow, Tenant, make_engine, new_id
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.sync.conftest import api_key
from tests.sync.test_cli import ROOT, personas

PNG = (ROOT / "personas/avatars/support-agent.png").read_bytes()
SCRIPTED_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HOSTILE_SLUGS = ["../../outside/pwned", "/tmp/pwned-abs", "Upper", "a/b", "x\x1b[2Jy", "a" * 65]


@dataclass
class Remote:
    engine: Engine
    env: dict[str, str]

    def insert(self, slug: str, avatar: tuple[bytes, str] | None = None) -> None:
        """A persona row written past the API's validation."""
        with Session(self.engine) as s:
            tenant = s.execute(select(Tenant).where(Tenant.slug == "acme")).scalar_one()
            row = PersonaRow(
                id=new_id("per"),
                tenant_id=tenant.id,
                name="Hostile",
                slug=slug,
                model_slug="scaigrid/gpt-4o",
                system_prompt="Be brief.",
                metadata_={},
                avatar_url="/avatar" if avatar else None,
            )
            s.add(row)
            s.flush()
            if avatar:
                data, content_type = avatar
                sha = hashlib.sha256(data).hexdigest()
                s.add(
                    AvatarRow(persona_pk=row.pk, content_type=content_type, sha256=sha, data=data)
                )
            s.commit()

    def metadata(self, slug: str) -> dict:
        with Session(self.engine) as s:
            row = s.execute(select(PersonaRow).where(PersonaRow.slug == slug)).scalar_one()
            return row.metadata_ or {}


@pytest.fixture
def remote(sqlite_url: str) -> Iterator[Remote]:
    engine = make_engine(sqlite_url)
    key = api_key(engine)
    with EmbeddedCatalogue(engine, "acme") as cat:
        cat.create_persona(
            PersonaCreate(name="Good one", slug="good-one", model_slug="scaigrid/gpt-4o")
        )
    with serve_in_thread(create_app(engine)) as base_url:
        yield Remote(engine, {"SCAIGRID_HOST": base_url, "SCAIGRID_API_KEY": key})
    engine.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "personas").mkdir(parents=True)
    (root / "personas.toml").write_text('[repo]\nid = "acme/adopted"\ntenant = "acme"\n')
    return root


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_hostile_slugs_are_refused_and_the_rest_imported(
    remote: Remote, fresh: Path, tmp_path: Path
) -> None:
    for slug in HOSTILE_SLUGS:
        remote.insert(slug, (PNG, "image/png"))
    done = personas("import", "--all", cwd=fresh, env=remote.env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wrote personas/good-one.yaml" in done.stdout
    assert "refused ../../outside/pwned: the catalogue answered an invalid slug" in done.stderr
    assert "\x1b" not in done.stderr and "x\\x1b[2Jy" in done.stderr
    assert "error IMPORT_REFUSED: 6 catalogue persona(s) refused" in done.stderr
    assert not (tmp_path / "outside").exists() and not Path("/tmp/pwned-abs.yaml").exists()
    assert files_under(fresh) == ["personas.toml", "personas/good-one.yaml"]
    for slug in HOSTILE_SLUGS:
        assert "personas_as_code" not in remote.metadata(slug)  # not adopted
    assert "personas_as_code" in remote.metadata("good-one")


def test_unsafe_avatar_refuses_the_persona(remote: Remote, fresh: Path) -> None:
    remote.insert("scripted", (SCRIPTED_SVG, "image/svg+xml"))
    remote.insert("mislabelled", (b"GIF89a" + b"\0" * 32, "image/png"))
    done = personas("import", "--all", cwd=fresh, env=remote.env)
    assert done.returncode == 1
    assert "refused scripted: its avatar is refused" in done.stderr
    assert "refused mislabelled: its avatar is refused" in done.stderr
    assert files_under(fresh) == ["personas.toml", "personas/good-one.yaml"]
    assert "personas_as_code" not in remote.metadata("scripted")


def test_symlinked_avatars_folder_is_not_followed(
    remote: Remote, fresh: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, fresh / "personas" / "avatars")
    remote.insert("pictured", (PNG, "image/png"))
    done = personas("import", "pictured", cwd=fresh, env=remote.env)
    assert done.returncode == 1
    assert "refused pictured:" in done.stderr and "'personas/avatars' is a symlink" in done.stderr
    assert list(outside.iterdir()) == []
    assert not (fresh / "personas" / "pictured.yaml").exists()
    assert "personas_as_code" not in remote.metadata("pictured")
