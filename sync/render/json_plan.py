"""The plan as JSON: the stable shape of ``Plan.to_dict`` (``format_version`` 1), redacted."""

from __future__ import annotations

import json

from personas_as_code.sync.plan import Plan
from personas_as_code.sync.render.redact import redact_plan


def render_json(plan: Plan) -> str:
    """Pretty JSON of the plan with secrets redacted (the checksum is the real plan's)."""
    data = redact_plan(plan).to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
