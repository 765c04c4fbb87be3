"""The item's history: every creation and every completed task, with who, when, what and why.

Every event is chained under the history's key (``engine.audit.audit``), and whenever an item row
is flushed its ``history_seal`` is recomputed over its latest event and its status and version: in
the same transaction, whichever code changed it, so the seal never lags behind the item.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import flag_modified

from engine.audit import audit, keys
from engine.store.models import HistoryEvent, HistoryPrune, Item, utcnow

_HEADS = "rectiflow_history_heads"
_UNANCHORED = "rectiflow_history_unanchored"


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
    """Append one event, chained to the item's last; the caller holds the item's lock."""
    key = keys.of(session)
    last = _stored_head(session, item.id)
    event = HistoryEvent(
        item_id=item.id,
        seq=last[0] + 1 if last else 1,
        at=utcnow(),
        actor=actor,
        action=action,
        task=task,
        status_from=status_from,
        status_to=status_to,
        # Stored as the JSON it will be read back as, so that the hash is recomputed the same.
        data=json.loads(json.dumps(data or {})),
        prev_hash=last[1] if last else audit.GENESIS,
    )
    event.hash = audit.event_hash(key, event)
    session.add(event)
    # The next event of this transaction follows this one, without reading it back.
    session.info.setdefault(_HEADS, {})[item.id] = (event.seq, event.hash)
    # A new head: the item is resealed when this flushes (``_reseal``).
    item.history_seal = None
    flag_modified(item, "history_seal")
    if last is None:
        # Linked into the global chain at commit (``_anchor_new_items``), not now: the link is one at a time for
        # the whole office, and the rest of this transaction need not wait its turn with it.
        session.info.setdefault(_UNANCHORED, []).append(event)
    return event


@orm_event.listens_for(Session, "before_commit")
def _anchor_new_items(session: Session) -> None:
    """The first events of the items this transaction created, linked into the global chain in their order."""
    pending = session.info.pop(_UNANCHORED, [])
    # An item created inside a savepoint that was rolled back is no longer in the session: nothing to link.
    created = [event for event in pending if event in session]
    if created:
        audit.anchor(session, created)


def _stored_head(session: Session, item_id: int) -> tuple[int, str] | None:
    """The item's latest event (seq, hash): read once a transaction, then kept as events are added."""
    heads: dict[int, tuple[int, str] | None] = session.info.setdefault(_HEADS, {})
    if item_id not in heads:
        heads[item_id] = _read_head(session, item_id)
    return heads[item_id]


@orm_event.listens_for(Session, "after_commit")
@orm_event.listens_for(Session, "after_rollback")
def _forget_heads(session: Session) -> None:
    """Heads are known for one transaction only: another may add events as soon as this one ends."""
    session.info.pop(_HEADS, None)
    session.info.pop(_UNANCHORED, None)


def _read_head(session: Session, item_id: int) -> tuple[int, str] | None:
    last = session.execute(
        select(HistoryEvent.seq, HistoryEvent.hash)
        .where(HistoryEvent.item_id == item_id)
        .order_by(HistoryEvent.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        # An item whose history was pruned under retention continues its chain from the removed head.
        last = session.execute(
            select(HistoryPrune.through_seq, HistoryPrune.head_hash).where(HistoryPrune.item_id == item_id)
        ).first()
    return (last[0], last[1]) if last else None


@orm_event.listens_for(Session, "before_flush")
def _reseal(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Seal every changed item over its head as this flush leaves it (its new events included)."""
    changed = [obj for obj in session.dirty if isinstance(obj, Item) and session.is_modified(obj)]
    if not changed:
        return
    key = keys.of(session)
    pending: dict[int, tuple[int, str]] = {}
    for obj in session.new:
        if isinstance(obj, HistoryEvent) and obj.seq > pending.get(obj.item_id, (0, ""))[0]:
            pending[obj.item_id] = (obj.seq, obj.hash)
    with session.no_autoflush:
        for item in changed:
            head = pending.get(item.id) or _stored_head(session, item.id)
            item.history_seal = audit.seal(key, item.id, head, item.status, item.version) if head else None


def as_record(event: HistoryEvent) -> dict[str, Any]:
    """An event's stored fields, as exports and archives write them (``at`` stays a datetime)."""
    return {
        "item_id": event.item_id,
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "task": event.task,
        "status_from": event.status_from,
        "status_to": event.status_to,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def events(session: Session, item_id: int) -> list[HistoryEvent]:
    return list(session.scalars(select(HistoryEvent).where(HistoryEvent.item_id == item_id).order_by(HistoryEvent.seq)))


def pruned(session: Session, item_id: int) -> HistoryPrune | None:
    """Where the item's older history went, if it was removed under the retention policy."""
    return session.scalar(select(HistoryPrune).where(HistoryPrune.item_id == item_id))


def record_change(
    session: Session, item: Item, *, actor: str, action: str, data: dict[str, Any], task: str | None = None
) -> HistoryEvent:
    """An event that changes the item without moving its status; the item's version (its ETag) moves."""
    item.version += 1
    item.updated_at = utcnow()
    return record(
        session, item, actor=actor, action=action, task=task, status_from=item.status, status_to=item.status, data=data
    )
