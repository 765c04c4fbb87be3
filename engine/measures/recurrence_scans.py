"""Each item's earlier alike items (曾整改过), found once by the worker and kept, so a page does not look for them.

Looking while a page is read cost ~25 ms an item on a 100,000-item office (``recurrence``: a trigram search
for the nearest titles). What an item finds hardly changes: only items closed *before* it was raised count,
so items closing later never concern it. Kept (``RecurrenceScan``, ``RecurrenceMatch``) is what each way of
comparing finds among all items, the first :data:`KEPT` of each; a reader is then shown those they may see,
still counted (not withdrawn), still closed and within the months. That is exactly what looking now would
show, unless a way found more than it kept and the reader's filters left fewer than ``recurrence.SHOWN`` of
them: such an item, and one not compared yet, is looked up live, as before.

- Items wait in ``RecurrencePending`` (those of an upgraded database included). The ``recurrence`` job (one
  row at most, migration 0022) compares them, newest first, a batch per run, and stays due while any waits; a
  transaction that adds or changes items makes it due, and so does a worker starting (which also queues the
  items compared over other months than it is configured for).
- An item whose title, unit, category or raising date changes is compared again, and so is every item that
  may have found it (when it is closed): those raised within the months after it closed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, insert, inspect, or_, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.measures import recurrence
from engine.measures.recurrence import Earlier
from engine.store.db import Base
from engine.store.models import Item, Job, RecurrenceMatch, RecurrencePending, RecurrenceScan, User, utcnow

RECURRENCE_JOB = "recurrence"
# What each way keeps of an item's finds: enough that a reader's filters rarely leave fewer than shown.
KEPT = 20
BATCH = 50  # items compared per run of the job: ~1 s on a 100,000-item office
# What, changed on an item, changes what it finds (or, once closed, which items find it).
COMPARED = ("title", "category", "department", "department_id", "created_at")
_WAKE = "rectiflow_recurrence_wake"


def earlier(session: Session, user: User, item: Item, months: int, how: str | None = None) -> list[Earlier]:
    """The items closed in the ``months`` before ``item`` was raised that look like it, latest closed first."""
    return earlier_of(session, user, [item], months, how).get(item.id, [])


def came_back(session: Session, user: User, new: Sequence[Item], months: int, how: str | None = None) -> set[int]:
    """The ids of the items among ``new`` that look like an earlier closed item."""
    return set(earlier_of(session, user, new, months, how))


def earlier_of(
    session: Session, user: User, new: Sequence[Item], months: int, how: str | None = None
) -> dict[int, list[Earlier]]:
    """:func:`earlier` of each item among ``new`` in one go (a page, an export batch): only those that came back."""
    if not new:
        return {}
    how = how or recurrence.method(session)
    by_id = {item.id: item for item in new}
    scans = session.execute(
        select(RecurrenceScan.item_id, RecurrenceScan.truncated).where(
            RecurrenceScan.item_id.in_(by_id), RecurrenceScan.method == how, RecurrenceScan.months >= months
        )
    ).all()
    truncated = {item_id: ways for item_id, ways in scans}
    kept = (
        select(RecurrenceMatch.item_id, RecurrenceMatch.way, Item)
        .join(Item, Item.id == RecurrenceMatch.earlier_id)
        .where(RecurrenceMatch.item_id.in_(truncated), Item.closed_at.is_not(None), counted_clause())
        .where(visible_clause(user))
        .order_by(RecurrenceMatch.item_id, RecurrenceMatch.way, RecurrenceMatch.rank)
    )
    found: recurrence.Found = {}
    olds: dict[int, Item] = {}
    for item_id, way, old in session.execute(kept):
        raised, closed = by_id[item_id].created_at, old.closed_at
        if closed is not None and recurrence.months_before(raised, months) <= closed < raised:
            found.setdefault(item_id, {}).setdefault(way, []).append(old.id)
            olds[old.id] = old
    known = {
        item_id
        for item_id, ways in truncated.items()
        if all(len(found.get(item_id, {}).get(way, ())) >= recurrence.SHOWN for way in ways)
    }
    answer = {item_id: recurrence.chosen(by_id[item_id], found[item_id], olds) for item_id in known if item_id in found}
    unknown = [item for item in new if item.id not in known]
    return answer | recurrence.live(session, user, unknown, months, how) if unknown else answer


def scan(session: Session, items: Sequence[Item], months: int, how: str) -> None:
    """Compare ``items`` with every item closed before each, and keep what each way finds (its first :data:`KEPT`)."""
    ids = [item.id for item in items]
    found = recurrence.ways(session, None, items, months, how, KEPT)
    session.execute(delete(RecurrenceMatch).where(RecurrenceMatch.item_id.in_(ids)))
    session.execute(delete(RecurrenceScan).where(RecurrenceScan.item_id.in_(ids)))
    matches = [
        {"item_id": item_id, "way": way, "rank": rank, "earlier_id": old_id}
        for item_id, by_way in found.items()
        for way, olds in by_way.items()
        for rank, old_id in enumerate(olds)
    ]
    if matches:
        session.execute(insert(RecurrenceMatch), matches)
    session.execute(
        insert(RecurrenceScan),
        [
            {
                "item_id": item_id,
                "method": how,
                "months": months,
                "truncated": sorted(way for way, olds in found.get(item_id, {}).items() if len(olds) >= KEPT),
            }
            for item_id in ids
        ],
    )


def run_batch(session: Session, months: int) -> bool:
    """Compare the newest :data:`BATCH` items waiting (``RecurrencePending``); whether more may wait. Those
    another worker is comparing are skipped; one changed meanwhile waits again once this commits."""
    waiting = (
        select(RecurrencePending.item_id)
        .order_by(RecurrencePending.item_id.desc())
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(waiting))
    if ids:
        scan(session, list(session.scalars(select(Item).where(Item.id.in_(ids)))), months, recurrence.method(session))
        session.execute(delete(RecurrencePending).where(RecurrencePending.item_id.in_(ids)))
    return len(ids) == BATCH


def requeue(session: Session, months: int) -> None:
    """Items compared otherwise than this worker would (other months, another method) wait again; then wake."""
    how = recurrence.method(session)
    other = select(RecurrenceScan.item_id).where(or_(RecurrenceScan.months != months, RecurrenceScan.method != how))
    _wait(session.connection(), list(session.scalars(other)))
    wake(session)


def wake(session: Session) -> None:
    """Make the ``recurrence`` job due now (a new due time: a run ending meanwhile leaves it due), made if none."""
    now = utcnow()
    woken = session.execute(update(Job).where(Job.kind == RECURRENCE_JOB).values(due_at=now))
    if not getattr(woken, "rowcount", 0):
        # Made by another transaction meanwhile (the unique index): that one is due now too.
        session.execute(
            _insert(session.connection(), Job).values(kind=RECURRENCE_JOB, due_at=now).on_conflict_do_nothing()
        )


def _insert(connection: Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can skip rows already there (``on_conflict_do_nothing``), in the database's own words."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def _wait(connection: Connection, ids: Sequence[int]) -> None:
    """These items wait to be compared (again)."""
    if ids:
        rows = [{"item_id": item_id} for item_id in ids]
        connection.execute(_insert(connection, RecurrencePending).on_conflict_do_nothing(), rows)


def _forget(connection: Connection, changed: Sequence[Item]) -> None:
    """The comparisons ``changed`` items invalidate: their own, and those of items that may have found them
    (when closed: the items raised within the longest months compared after it closed)."""
    stale = {item.id for item in changed}
    longest = connection.scalar(select(func.max(RecurrenceScan.months)))
    for item in changed:
        if item.closed_at is not None and longest:
            finders = select(RecurrenceMatch.item_id).where(RecurrenceMatch.earlier_id == item.id)
            raised_after = select(Item.id).where(
                Item.created_at > item.closed_at,
                Item.created_at <= recurrence.months_before(item.closed_at, -longest),
            )
            stale |= set(connection.scalars(finders)) | set(connection.scalars(raised_after))
    connection.execute(delete(RecurrenceScan).where(RecurrenceScan.item_id.in_(stale)))
    _wait(connection, sorted(stale))


@orm_event.listens_for(Session, "after_flush")
def _note_items(session: Session, _flush: UOWTransaction) -> None:
    """New items wait to be compared; changed ones, and those that may have found them, are compared again."""
    new = [obj.id for obj in session.new if isinstance(obj, Item)]
    changed = [
        obj
        for obj in session.dirty
        if isinstance(obj, Item) and any(inspect(obj).attrs[name].history.has_changes() for name in COMPARED)
    ]
    if not new and not changed:
        return
    connection = session.connection()
    _wait(connection, new)
    if changed:
        _forget(connection, changed)
    session.info[_WAKE] = True


@orm_event.listens_for(Session, "before_commit")
def _wake_on_commit(session: Session) -> None:
    # At commit, not at the change: the job's row stays locked from here to the commit only. The commit's own
    # flush comes after this hook: flushed first, so that the changes it holds are noted.
    session.flush()
    if session.info.pop(_WAKE, False):
        wake(session)


@orm_event.listens_for(Session, "after_rollback")
def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE, None)
