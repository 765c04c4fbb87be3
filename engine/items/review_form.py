"""How a review form judges work (processes/forms/review.json, joint_review.json): approve it, or send it
back (退回) saying why. Read by the review panel, the timeline and the notifications."""

from __future__ import annotations

from typing import Any

DECISION, APPROVE, REJECT, REASON = "decision", "approve", "reject", "comment"


def is_rejection(data: dict[str, Any] | None) -> bool:
    return (data or {}).get(DECISION) == REJECT


def reason(data: dict[str, Any] | None) -> str:
    """Why the work was sent back ("" when the form gave no reason)."""
    return str((data or {}).get(REASON) or "")
