"""The ``[safety]`` thresholds shared by the persona plan and the test-personas section."""

from __future__ import annotations

from personas_as_code.schemas.config import SafetySection


def threshold_reasons(
    safety: SafetySection,
    *,
    updates: int,
    deletes: int,
    managed: int,
    noun: str,
    deletions: str,
) -> list[str]:
    """Why ``updates`` and ``deletes`` of ``managed`` objects cross a threshold (empty:
    safe); ``noun`` names one object (``persona``), ``deletions`` the cap's subject."""
    reasons = []
    if managed >= safety.min_existing and managed > 0:
        if 100.0 * updates / managed > safety.max_update_percent:
            reasons.append(
                f"{updates} of {managed} managed {noun}s would be updated "
                f"(limit {safety.max_update_percent:g}%)"
            )
        if 100.0 * deletes / managed > safety.max_delete_percent:
            reasons.append(
                f"{deletes} of {managed} managed {noun}s would be deleted "
                f"(limit {safety.max_delete_percent:g}%)"
            )
    if deletes > safety.max_deletes:
        reasons.append(f"{deletes} {deletions} exceed the cap of {safety.max_deletes}")
    if managed and deletes >= managed:
        reasons.append(f"every managed {noun} ({managed}) would be deleted")
    return reasons
