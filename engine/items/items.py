"""Reading items: who may see which, filters, pagination, the live tasks of an item."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, joinedload, undefer
from sqlalchemy.orm.attributes import set_committed_value

from engine.identity.identity import Role
from engine.items import assignment, due, incidents
from engine.measures import mechanism
from engine.store.errors import NotFound
from engine.store.models import Department, Instance, Item, ItemUnit, ProcessDefinition, Task, User

# Roles whose work spans every unit: they read every item.
GLOBAL_READERS = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN, Role.DESIGNER})
# Tasks an inbox page lists unless asked for another number.
INBOX_PAGE = 50
# The status of an item withdrawn (撤销, ``corrections``): it has a closed_at but was never closed.
WITHDRAWN = ("withdrawn", "已撤销 Withdrawn")


# How a ledger may be sorted: name -> column; "-name" sorts descending.
SORTS = {
    "id": Item.id,
    "deadline": Item.deadline,
    "created_at": Item.created_at,
    "updated_at": Item.updated_at,
    "status": Item.status,
    "title": Item.title,
}


@dataclass(frozen=True)
class ItemFilter:
    status: str | None = None
    department: str | None = None
    source: str | None = None
    category: str | None = None
    severity: str | None = None
    q: str | None = None
    overdue: bool | None = None
    due_within: int | None = None
    ongoing: bool | None = None
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    sort: str = "-id"
    incident: bool | None = None
    lasting: bool | None = None  # closed (not withdrawn) with a lasting measure (长效机制), or without one
    page: int = 1
    per_page: int = 20


def visible_clause(user: User) -> ColumnElement[bool]:
    """Everyone sees the items their unit takes part in and those they raised or own; some roles see all."""
    if user.roles & GLOBAL_READERS:
        return true()
    clauses = [Item.owner_id == user.id, Item.created_by_id == user.id]
    if user.department_id is not None:
        # The unit's own items and the joint tasks it takes part in (how external units see anything).
        clauses.append(Item.id.in_(select(ItemUnit.item_id).where(ItemUnit.department_id == user.department_id)))
    return or_(*clauses) if clauses else false()


def _filtered(user: User, flt: ItemFilter, on: dt.date) -> Select[Item]:
    query = _state_filters(select(Item).where(visible_clause(user)), flt, on)
    enumerated = (
        (Item.status, flt.status),
        (Item.source, flt.source),
        (Item.category, flt.category),
        (Item.severity, flt.severity),
    )
    for column, wanted in enumerated:
        if wanted:
            query = query.where(column == wanted)
    if flt.department:
        query = query.where(Item.department_id.in_(select(Department.id).where(Department.code == flt.department)))
    if flt.q:
        pattern = f"%{flt.q}%"
        query = query.where(or_(Item.title.ilike(pattern), Item.description.ilike(pattern)))
    return query


def _state_filters(query: Select[Item], flt: ItemFilter, on: dt.date) -> Select[Item]:
    if flt.overdue is not None:
        overdue = due.overdue_clause(on)
        query = query.where(overdue if flt.overdue else or_(~overdue, Item.deadline.is_(None)))
    if flt.due_within is not None:
        query = query.where(due.due_within_clause(on, flt.due_within))
    if flt.ongoing is not None:
        query = query.where(Item.ongoing.is_(flt.ongoing))
    if flt.incident is not None:
        query = query.where(incidents.open_clause() if flt.incident else ~incidents.open_clause())
    if flt.lasting is not None:
        lasting = mechanism.lasting_clause()
        closed = (Item.closed_at.is_not(None), Item.status != WITHDRAWN[0])
        query = query.where(*closed, lasting if flt.lasting else ~lasting)
    if flt.deadline_from is not None:
        query = query.where(Item.deadline >= flt.deadline_from)
    if flt.deadline_to is not None:
        query = query.where(Item.deadline <= flt.deadline_to)
    return query


def _ordered(query: Select[Item], sort: str) -> Select[Item]:
    column = SORTS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    # Items without a deadline (长期坚持) sort last either way. Only a column that can be NULL says so: "id DESC
    # NULLS LAST" is not the order of any index, and PostgreSQL would sort every item to show twenty.
    if column.expression.nullable:
        order = order.nulls_last()
    # The id keeps pages stable.
    return query.order_by(order, Item.id.desc() if sort.startswith("-") else Item.id.asc())


@dataclass(frozen=True)
class Listed:
    """A ledger page: its items, how many the filter selects, and per status its label and how many the
    filter would select whatever the status (the ledger's tabs)."""

    items: list[Item]
    total: int
    counts: dict[str, tuple[str, int]]


def list_items(session: Session, user: User, flt: ItemFilter, on: dt.date) -> Listed:
    """A page of the items ``user`` may see; ``on`` is the office's date for the deadline filters.

    The total is read off the per-status counts (one pass over the items the filter selects, not two).
    """
    counts = status_counts(session, user, flt, on)
    selected = [flt.status] if flt.status else list(counts)
    total = sum(counts[status][1] for status in selected if status in counts)
    page = _ordered(_filtered(user, flt, on), flt.sort).limit(flt.per_page).offset((flt.page - 1) * flt.per_page)
    return Listed(list(session.scalars(page)), total, counts)


def all_items(session: Session, user: User, flt: ItemFilter, on: dt.date) -> Iterator[Item]:
    """Every item the filter selects, in its order (an export: no pages)."""
    query = _ordered(_filtered(user, flt, on), flt.sort).execution_options(yield_per=500)
    yield from session.scalars(query)


def status_counts(session: Session, user: User, flt: ItemFilter, on: dt.date) -> dict[str, tuple[str, int]]:
    """Per status: its label and how many items the filter selects, whatever their status; in lifecycle order."""
    unfiltered_status = _filtered(user, replace(flt, status=None), on).with_only_columns(Item.status).subquery()
    by_status = select(unfiltered_status.c.status, func.count()).group_by(unfiltered_status.c.status)
    counted: dict[str, int] = {status: n for status, n in session.execute(by_status)}
    labels = lifecycle(session)
    unknown = [status for status in counted if status not in labels]  # a status no deployed diagram names now
    if unknown:
        stored = select(Item.status, func.max(Item.status_label)).where(Item.status.in_(unknown)).group_by(Item.status)
        labels |= {status: label for status, label in session.execute(stored)}
    rank = {status: index for index, status in enumerate(labels)}
    ordered = sorted(counted, key=lambda status: (rank.get(status, len(rank)), status))
    return {status: (labels[status], counted[status]) for status in ordered}


def lifecycle(session: Session) -> dict[str, str]:
    """Every status with its label, in the order an item passes through it, as the deployed diagrams give it.

    The newest diagram decides; statuses only older versions know follow in their own order. Counting by
    status alone (labels from here, not from each item's row) lets the count read the status index only.
    """
    order: dict[str, str] = {}
    for model in session.scalars(select(ProcessDefinition.model).order_by(ProcessDefinition.id.desc())):
        for found in model.get("statuses", {}).values():
            order.setdefault(found["status"], found["label"])
    return order


def get_visible(session: Session, user: User, item_id: int) -> Item:
    """An item the user may see; one they may not see is reported as missing, not as forbidden."""
    item = session.scalar(select(Item).where(Item.id == item_id, visible_clause(user)))
    if item is None:
        raise NotFound(f"事项不存在 No item {item_id}")
    return item


def live_tasks(session: Session, item: Item) -> list[Task]:
    return list(
        session.scalars(
            select(Task).where(Task.item_id == item.id, Task.state.in_(("ready", "waiting"))).order_by(Task.id)
        )
    )


def task_by_id(session: Session, task_id: int) -> Task:
    return session.get_one(Task, task_id)


def inbox(
    session: Session, user: User, on: dt.date, page: int = 1, per_page: int = INBOX_PAGE
) -> tuple[list[Task], int]:
    """A page of the ready tasks ``user`` may complete, and how many there are in all.

    Those of overdue items first (``on``: the office's date), then the oldest: what most needs doing is
    on the first page, however long the inbox.
    """
    mine = select(Task).where(Task.state == "ready", assignment.inbox_clause(user))
    total = session.scalar(select(func.count()).select_from(mine.with_only_columns(Task.id).subquery())) or 0
    # Looked up per task (the item's primary key), not joined: a join read every item to sort 5,000 tasks.
    first = case((exists().where(Item.id == Task.item_id, due.overdue_clause(on)), 0), else_=1)
    query = mine.order_by(first, Task.created_at, Task.id).limit(per_page).offset((page - 1) * per_page)
    return list(session.scalars(query)), total


def definition_of(session: Session, item: Item) -> ProcessDefinition:
    """The item's definition, held on the item for the rest of its session (read once a request, not per use)."""
    held: ProcessDefinition | None = item.__dict__.get("definition")
    if held is None or held.id != item.definition_id:  # a migration moves the item to another definition
        held = session.get_one(ProcessDefinition, item.definition_id)
        set_committed_value(item, "definition", held)
    return held


def instance_of(session: Session, item: Item) -> Instance:
    """The item's stored instance with its state, held on the item as its definition is."""
    held: Instance | None = item.__dict__.get("instance")
    if held is None:
        held = session.get_one(Instance, item.id, options=[undefer(Instance.state)])
        set_committed_value(item, "instance", held)
    return held


def task_model(session: Session, item: Item, task: Task) -> dict[str, Any]:
    """The model of the definition a task's step is in: a called process's (``Task.definition_id``), or the item's."""
    model: dict[str, Any] = session.get_one(ProcessDefinition, task.definition_id or item.definition_id).model
    return model


def data_of(session: Session, item: Item) -> dict[str, object]:
    return dict(instance_of(session, item).data)


def units(session: Session, item: Item) -> list[ItemUnit]:
    """The lead unit first, then the co-units in the order they were named."""
    return list(session.scalars(select(ItemUnit).where(ItemUnit.item_id == item.id).order_by(ItemUnit.position)))


@dataclass(frozen=True)
class Part:
    """One unit's share of a joint task: its latest instance of the diagram's multi-instance task."""

    unit: ItemUnit
    task: Task | None

    @property
    def state(self) -> str:
        if self.task is None:
            return "none"
        return "done" if self.task.state == "completed" else "pending"

    @property
    def submitted(self) -> dict[str, Any]:
        return dict(self.task.data or {}) if self.task is not None and self.task.state == "completed" else {}

    @property
    def actor(self) -> str | None:
        done_by = self.task.completed_by if self.task is not None else None
        return done_by.username if done_by is not None else None


def parts(session: Session, item: Item) -> list[Part]:
    """Each unit's part, for items whose diagram (or a process it called) has a multi-instance user task."""
    definition = definition_of(session, item)
    own = [name for name, task in definition.model["tasks"].items() if task.get("multi_instance")]
    rows = session.scalars(
        select(Task)
        .where(Task.item_id == item.id, Task.instance_key.is_not(None), Task.state != "cancelled")
        .options(joinedload(Task.completed_by))
        .order_by(Task.id)
    )
    shared = [row for row in rows if task_model(session, item, row)["tasks"][row.name].get("multi_instance")]
    if not own and not shared:
        return []
    latest = {row.instance_key: row for row in shared}
    return [Part(unit, latest.get(unit.department.code)) for unit in units(session, item)]
