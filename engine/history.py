"""The item's history: every creation and every completed task, with who, when, what and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import HistoryEvent, Item, utcnow


def record(
    session: Session,
    item: Item,
    *,
    actor: str | None,
    action: str,
    task: str | None = None,
    status_from: str | None = None,
    status_to: str | None = None,
    data: dict[str, Any] | None = None,
) -> HistoryEvent:
    """Append one event; the caller holds the item's lock, so ``seq`` cannot collide."""
    # Computed by the INSERT itself: one statement, no read-then-write.
    next_seq = (
        select(func.coalesce(func.max(HistoryEvent.seq), 0) + 1)
        .where(HistoryEvent.item_id == item.id)
        .scalar_subquery()
    )
    event = HistoryEvent(
        item_id=item.id,
        seq=next_seq,
        actor=actor,
        action=action,
        task=task,
        status_from=status_from,
        status_to=status_to,
        data=data or {},
    )
    session.add(event)
    # Insert now, so that a second event of the same transaction counts this one.
    session.flush()
    return event


def events(session: Session, item_id: int) -> list[HistoryEvent]:
    return list(session.scalars(select(HistoryEvent).where(HistoryEvent.item_id == item_id).order_by(HistoryEvent.seq)))


def record_change(
    session: Session, item: Item, *, actor: str, action: str, data: dict[str, Any], task: str | None = None
) -> HistoryEvent:
    """An event that changes the item without moving its status; the item's version (its ETag) moves."""
    item.version += 1
    item.updated_at = utcnow()
    return record(
        session, item, actor=actor, action=action, task=task, status_from=item.status, status_to=item.status, data=data
    )
