"""The outputs users and CI read stay byte-identical across refactors.

To accept a deliberate change of output: ``python tests/golden/record.py``, then review
the diff of ``tests/golden/out`` like any other change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.record import OUT, record

pytestmark = pytest.mark.slow


def test_outputs_match_the_recorded_golden_files() -> None:
    outputs = record()
    assert sorted(p.name for p in OUT.iterdir()) == sorted(outputs)
    for name, text in outputs.items():
        assert (OUT / name).read_text(encoding="utf-8") == text, f"{name} changed"


def test_the_golden_files_are_not_empty() -> None:
    assert all(Path(OUT / name).stat().st_size > 100 for name in ("plan-create.json", "test.md"))
