"""The plan as it may be shown: one redacted copy that every renderer and MCP result uses.

``redact_plan`` walks everything a plan carries — field diffs before and after,
the fields of a create, sources and their search configs, ownership markers,
warnings and errors that quote values, orphans — and returns a copy in which
secrets (by key name and by value shape, see ``untrusted.secrets``) are replaced
by ``[REDACTED]``.  The raw desired/actual states are dropped from the copy.

The copy keeps the checksum of the real plan: ``apply --checksum`` must match
what was reviewed, and a secret rotated in a file must still change the
checksum even though both sides show ``[REDACTED]``.  The checksum is a sha256
over the whole plan, so it does not reveal the secret.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from personas_as_code.sync.changes import FieldDiff, PersonaPlan
from personas_as_code.sync.plan import Plan
from personas_as_code.untrusted.secrets import redact_data, redact_structure


@dataclass(frozen=True)
class RedactedPlan(Plan):
    """A plan with its secrets redacted; ``checksum`` is that of the plan it was made from."""

    real_checksum: str = ""

    @property
    def checksum(self) -> str:
        return self.real_checksum


def _redacted(value: Any, name: str = "") -> Any:
    """``value`` with secrets redacted, recursing into the plan's dataclasses."""
    if isinstance(value, FieldDiff):
        return FieldDiff(
            value.field,
            redact_data(value.before, value.field),
            redact_data(value.after, value.field),
        )
    if isinstance(value, PersonaPlan):
        if not (value.changes or value.warnings or value.error):
            # no values, only its identity, which no renderer shows for an unchanged
            # persona; scanning it cost seconds at 10,000 personas
            return dataclasses.replace(value, desired=None, actual=None)
        value = dataclasses.replace(value, desired=None, actual=None)
    return redact_structure(value, name, _redacted)


def redact_plan(plan: Plan) -> RedactedPlan:
    """A copy of ``plan`` safe to show; a plan already redacted is returned as it is."""
    if isinstance(plan, RedactedPlan):
        return plan
    fields = {f.name: _redacted(getattr(plan, f.name), f.name) for f in dataclasses.fields(plan)}
    return RedactedPlan(**fields, real_checksum=plan.checksum)
