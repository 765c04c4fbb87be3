"""An administrator's correction (更正) or withdrawal (撤销) of an item registered by mistake.

Both need a reason, run under the item's lock, and land in the item's chained history with who,
when and why: a correction as each field's old and new value, a withdrawal as the status change.
A new lead unit or deadline reaches the running diagram; a corrected category or severity is the
item's only: the workflow keeps the values it started with, and nothing decided on them runs again.

A withdrawn item stops for good: its workflow is cancelled, its live tasks leave every inbox, its
timers are disarmed, its open incident and pending extension request are set aside. It keeps its
page and its place in the ledger under the status ``withdrawn`` (已撤销), and counts in no figure
of the dashboard or the reports: a mistake was never a problem raised, nor one closed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from engine.audit import admin_log, history
from engine.bpmn.instance import dump, set_variable
from engine.identity import permissions
from engine.identity.identity import department_by_code
from engine.items import assignment, external_tasks, incidents, items, sources, workflow
from engine.items.items import WITHDRAWN
from engine.store import clock, severity
from engine.store.errors import InvalidInput, StaleVersion
from engine.store.models import ExtensionRequest, Item, Job, ProcessDefinition, Task, User, utcnow


def counted_clause() -> ColumnElement[bool]:
    """Items that count in figures: every one but those withdrawn."""
    return Item.status != WITHDRAWN[0]


def is_withdrawn(item: Item) -> bool:
    return item.status == WITHDRAWN[0]


class Keep(Enum):
    """A correction's field left as it is (not sent)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Correction:
    """The fields to correct and why: ``KEEP`` leaves a field as it is, ``None`` clears an optional one."""

    reason: str
    title: str | Keep | None = KEEP
    description: str | Keep | None = KEEP
    source: str | Keep | None = KEEP
    category: str | Keep | None = KEEP
    severity: str | Keep = KEEP
    department: str | Keep | None = KEEP
    deadline: dt.date | Keep | None = KEEP


# What an administrator may correct, in the form's order; of these an item cannot do without the required.
CORRECTABLE = tuple(f.name for f in fields(Correction) if f.name != "reason")
REQUIRED = frozenset({"title", "department", "severity"})
EMPTY = {"description": ""}  # a cleared field's value: an item without details has "", other fields None


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _locked_open(session: Session, actor: User, item_id: int, if_match: str | None) -> Item:
    """The item under lock, for an administrator, as the caller last read it, and not yet ended."""
    permissions.require_admin(actor)
    item = workflow.lock_item(session, item_id)
    if if_match is not None and if_match not in ("*", workflow.etag(item)):
        raise StaleVersion(f"事项已被修改 The item changed since you read it (now {workflow.etag(item)})")
    if item.closed_at is not None:
        raise _invalid("item", "已办结或已撤销的事项不能更改 A finished or withdrawn item cannot be changed")
    return item


def withdraw(
    session: Session, actor: User, item_id: int, reason: str, if_match: str | None = None, remote: str | None = None
) -> Item:
    item = _locked_open(session, actor, item_id, if_match)
    _definition, instance, running = workflow.open_item(session, item)
    running.cancel()
    instance.serializer_version, instance.state = dump(running)
    now = utcnow()
    session.execute(
        update(Task)
        .where(Task.item_id == item.id, Task.state.in_(("ready", "waiting")))
        .values(state="cancelled", completed_at=now)
    )
    session.execute(update(Job).where(Job.kind == workflow.TIMER_JOB, Job.item_id == item.id).values(due_at=None))
    status_from = item.status
    item.status, item.status_label = WITHDRAWN
    item.closed_at = item.updated_at = now
    item.version += 1
    record_withdrawal(session, item, actor, status_from, {"reason": reason}, remote)
    return item


def record_withdrawal(
    session: Session, item: Item, actor: User, status_from: str, data: dict[str, Any], remote: str | None
) -> None:
    """The rest of a withdrawal, once the item is ``withdrawn`` and its tasks and timers stopped: here, or by the
    diagram (an end event with that status, reached through a message). ``data`` holds the ``reason``."""
    session.execute(
        update(ExtensionRequest)
        .where(ExtensionRequest.item_id == item.id, ExtensionRequest.state == "pending")
        .values(state="cancelled")
    )
    external_tasks.cancel_all(session, item)
    incident = incidents.current(session, item)
    if incident is not None:
        incidents.resolve(incident, actor.username)
    history.record(
        session,
        item,
        actor=actor.username,
        action=WITHDRAWN[0],
        status_from=status_from,
        status_to=item.status,
        data=data,
    )
    admin_log.record(session, actor.username, "item.withdraw", f"item {item.id}", remote, reason=data.get("reason"))


def _value(value: object) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _changes(item: Item, fix: Correction) -> dict[str, dict[str, Any]]:
    """Each corrected field whose value differs: ``{field: {"from": old, "to": new}}`` (``None``: cleared)."""
    current = {
        "title": item.title,
        "description": item.description,
        "source": item.source,
        "category": item.category,
        "severity": item.severity,
        "department": item.department.code,
        "deadline": item.deadline,
    }
    wanted = {name: getattr(fix, name) for name in CORRECTABLE if getattr(fix, name) is not KEEP}
    for name, value in wanted.items():
        if value in (None, ""):
            if name in REQUIRED:
                raise _invalid(name, "此项为必填项，不能清空 This field is required: it cannot be cleared")
            wanted[name] = EMPTY.get(name)
    return {
        name: {"from": _value(current[name]), "to": _value(value)}
        for name, value in wanted.items()
        if value != current[name]
    }


def correct(
    session: Session,
    actor: User,
    item_id: int,
    fix: Correction,
    timezone: str,
    if_match: str | None = None,
    remote: str | None = None,
) -> Item:
    item = _locked_open(session, actor, item_id, if_match)
    changes = _changes(item, fix)
    if not changes:
        raise _invalid("title", "没有需要更正的内容 Nothing differs from the item as it is")
    if "deadline" in changes and item.ongoing:
        raise _invalid("deadline", "长期坚持的事项没有整改时限 An ongoing item has no deadline")
    if "source" in changes and changes["source"]["to"] is not None:
        sources.require_active(session, changes["source"]["to"])
    if "severity" in changes:
        severity.require_known(changes["severity"]["to"])
    for name in ("title", "description", "source", "category", "severity"):
        if name in changes:
            setattr(item, name, changes[name]["to"])
    if "department" in changes or "deadline" in changes:
        _move(session, item, fix, timezone)
    history.record_change(
        session, item, actor=actor.username, action="corrected", data={"reason": fix.reason, "changes": changes}
    )
    admin_log.record(session, actor.username, "item.correct", f"item {item.id}", remote, reason=fix.reason)
    return item


def _move(session: Session, item: Item, fix: Correction, timezone: str) -> None:
    """A new lead unit or deadline reaches the running diagram: its variables, timers and live tasks."""
    definition, instance, running = workflow.open_item(session, item)
    if isinstance(fix.department, str) and fix.department != item.department.code:
        _move_lead(session, item, fix.department)
        set_variable(running, "department", fix.department)
        set_variable(running, workflow.UNITS_VARIABLE, [fix.department])
    if not isinstance(fix.deadline, Keep) and fix.deadline != item.deadline:
        item.deadline = fix.deadline  # None: no deadline, the timers never fire (``clock.NEVER``)
        set_variable(running, workflow.DEADLINE_VARIABLE, clock.deadline_end(fix.deadline, timezone))
    workflow.store_timers(session, item, instance, definition, running)
    _reassign_live(session, item, definition)


def _move_lead(session: Session, item: Item, code: str) -> None:
    department = department_by_code(session, code)
    if department is None:
        raise _invalid("department", f"未知单位 Unknown department {code!r}")
    units = items.units(session, item)
    if len(units) > 1:
        # Each unit's part of a joint task is already under way: it cannot pass to another unit.
        raise _invalid("department", "联动事项不能更换牵头单位 A joint item keeps its lead unit")
    units[0].department = department
    item.department = department


def _reassign_live(session: Session, item: Item, definition: ProcessDefinition) -> None:
    """Live tasks of the lead unit's people go to the new lead unit (``assignment.follow_lead_unit``)."""
    context = assignment.Context(session, item, {}, None)
    for task in items.live_tasks(session, item):
        assignment.follow_lead_unit(task, items.task_model(session, item, task)["tasks"][task.name], context)
