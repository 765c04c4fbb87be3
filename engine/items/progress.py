"""Progress updates (进展): what was done and what is planned next, without completing a task."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.identity import permissions
from engine.items import corrections
from engine.items.workflow import lock_item
from engine.store.errors import InvalidInput
from engine.store.models import Item, ProgressUpdate, User


@dataclass(frozen=True)
class NewProgress:
    note: str
    percent: int | None = None
    plan: str | None = None


def report(session: Session, actor_id: int, item: Item, new: NewProgress) -> ProgressUpdate:
    """Record an update on ``item`` (already checked visible); its owner and its units may report."""
    item = lock_item(session, item.id)
    actor = permissions.require_progress_reporter(session, actor_id, item)
    if corrections.is_withdrawn(item):
        message = "已撤销的事项不再报送进展 A withdrawn item takes no progress report"
        raise InvalidInput(message, errors=[{"field": "item", "message": message}])
    update = ProgressUpdate(item_id=item.id, actor_id=actor.id, note=new.note, percent=new.percent, plan=new.plan)
    session.add(update)
    data = {"note": new.note, "percent": new.percent, "plan": new.plan}
    history.record_change(session, item, actor=actor.username, action="progress", data=data)
    return update


def imported(item: Item, actor: User, note: str) -> ProgressUpdate:
    """A ledger's 整改进度 as an update by its importer (who reports it, in place of the unit)."""
    return ProgressUpdate(item_id=item.id, actor_id=actor.id, note=note)


def updates(session: Session, item: Item) -> list[ProgressUpdate]:
    """Newest first."""
    query = select(ProgressUpdate).where(ProgressUpdate.item_id == item.id)
    return list(session.scalars(query.order_by(ProgressUpdate.at.desc(), ProgressUpdate.id.desc())))


def latest(session: Session, item: Item) -> ProgressUpdate | None:
    query = select(ProgressUpdate).where(ProgressUpdate.item_id == item.id)
    return session.scalar(query.order_by(ProgressUpdate.at.desc(), ProgressUpdate.id.desc()).limit(1))
