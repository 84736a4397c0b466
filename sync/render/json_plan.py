"""The plan as JSON: the stable shape of ``Plan.to_dict`` (``format_version`` 1), redacted."""

from __future__ import annotations

import json

from sync.plan import Plan
from sync.render.common import redact_value


def render_json(plan: Plan) -> str:
    """Pretty JSON of the plan with secrets redacted."""
    return (
        json.dumps(redact_value(plan.to_dict()), indent=2, ensure_ascii=False, default=str) + "\n"
    )
