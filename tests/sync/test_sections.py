"""The plan is a list of uniform sections: the plan and the apply result are gathered
from them the same way for each, and the reconciler stays small."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from personas_as_code.sync.apply import ApplyResult
from personas_as_code.sync.backends import BackendSection
from personas_as_code.sync.knowledge import KnowledgeSection
from personas_as_code.sync.persona_section import PersonaSection
from personas_as_code.sync.render import render_json
from personas_as_code.sync.section import merge_into
from personas_as_code.sync.simulated_users import SimulatedUsersSection

from tests.sync.conftest import Sync

SYNC = Path(__file__).resolve().parents[2] / "sync"


def test_shared_members_keep_their_place_and_join() -> None:
    body = merge_into({"a": 1, "w": ["x"]}, {"w": ["y"], "b": 2, "a": 3})
    assert list(body) == ["a", "w", "b"]
    assert body == {"a": 4, "w": ["x", "y"], "b": 2}


def test_the_plan_json_is_gathered_from_its_sections(esync: Sync) -> None:
    plan = esync.plan()
    kinds = [type(s) for s in plan.sections]
    assert kinds == [PersonaSection, KnowledgeSection, BackendSection, SimulatedUsersSection]
    data = json.loads(render_json(plan))
    members: dict = {}
    for section in plan.sections:
        merge_into(members, section.json_members())
    header = ["checksum", "format_version", "repo", "tenant", "changed_since", "prune", "summary"]
    assert list(data) == header + list(members)
    assert data["summary"] == plan.summary()


def test_an_empty_apply_result_has_every_sections_members(esync: Sync) -> None:
    data = ApplyResult.nothing(esync.plan()).to_dict()
    assert data == {
        "format_version": 1,
        "ok": True,
        "applied": 0,
        "failed": 0,
        "warnings": [],
        "personas": [],
        "knowledge": None,
        "backends": None,
        "test_personas": [],
    }


def test_no_sync_module_over_500_lines_nor_function_over_80() -> None:
    long_modules, long_functions = [], []
    for path in sorted(SYNC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            long_modules.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > 80:
                    long_functions.append(f"{path.name}:{node.name}")
    assert long_modules == [] and long_functions == []


def test_no_product_module_in_sync_is_named_test() -> None:
    assert [p.name for p in SYNC.rglob("test_*.py")] == []
