"""The admin log: denied actions and administrative changes, append-only, readable by auditors."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.models import AdminLogEntry


def record(
    session: Session,
    actor: str | None,
    action: str,
    target: str | None = None,
    remote_addr: str | None = None,
    **detail: Any,
) -> AdminLogEntry:
    """Add one entry in the caller's transaction: it lands together with the change it describes."""
    entry = AdminLogEntry(actor=actor, action=action, target=target, remote_addr=remote_addr, detail=detail)
    session.add(entry)
    return entry
