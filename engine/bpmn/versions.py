"""Versions for people: the version new items start on, retired versions, and each version's running items.

The one rule for new items: a process's *default* version when a designer marked one, else its latest
version. Deploying does not move a marked default. A *retired* version starts no new item (the item
is refused, naming ``process``); items running on it go on. The default cannot be retired (mark
another version default, or clear the mark, first), and a retired version cannot be made default.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn import deploy
from engine.store.errors import InvalidInput
from engine.store.models import Item, ProcessDefault, ProcessDefinition


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def marked_default(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(
        select(ProcessDefinition)
        .join(ProcessDefault, ProcessDefault.definition_id == ProcessDefinition.id)
        .where(ProcessDefault.key == key)
    )


def for_new_items(session: Session, key: str) -> ProcessDefinition:
    """The version a new item of ``key`` starts on; NotFound or InvalidInput naming ``process`` if none may."""
    definition = marked_default(session, key) or deploy.latest(session, key)
    if definition.retired:
        raise _refused(
            "process",
            f"流程 {key!r} 的第 {definition.version} 版已停用 Version {definition.version} of process {key!r} is "
            "retired: no new items start on it "
            "(a designer marks another version default)",
        )
    return definition


@dataclass(frozen=True)
class Change:
    """What changed, for the admin log: ``action`` (``process.default``, ``process.retire``...) and details."""

    action: str
    detail: dict[str, Any]


def change(
    session: Session, definition: ProcessDefinition, *, default: bool | None = None, retired: bool | None = None
) -> list[Change]:
    """Mark or unmark ``definition`` as its process's default, retire or reinstate it; each change made, in order."""
    current = marked_default(session, definition.key)
    is_default = current is not None and current.id == definition.id
    stays_default = is_default if default is None else default
    will_be_retired = definition.retired if retired is None else retired
    if will_be_retired and stays_default:
        field, message = (
            (
                "default",
                f"第 {definition.version} 版已停用，不能设为默认 Version {definition.version} is retired: "
                "reinstate it first",
            )
            if default
            else (
                "retired",
                f"第 {definition.version} 版是默认版本，不能停用 Version {definition.version} is the default for new "
                "items: make another version "
                "default or clear the default first",
            )
        )
        raise _refused(field, message)
    changes = []
    if retired is not None and retired != definition.retired:
        definition.retired = retired
        changes.append(Change("process.retire" if retired else "process.reinstate", {}))
    if default and not is_default:
        mark = session.get(ProcessDefault, definition.key) or ProcessDefault(key=definition.key)
        mark.definition_id = definition.id
        session.add(mark)
        was = {"previous": current.version if current else None}
        changes.append(Change("process.default", was))
    elif default is False and is_default:
        session.delete(session.get_one(ProcessDefault, definition.key))
        changes.append(Change("process.default_cleared", {}))
    session.flush()
    return changes


@dataclass(frozen=True)
class Listed:
    """A version as people see it listed: with its default mark and its running items."""

    definition: ProcessDefinition
    default: bool
    running: int


def listed(session: Session) -> list[tuple[str, list[Listed]]]:
    """Each process key with its versions, oldest first; three queries whatever the number of versions."""
    running = _running_counts(session)
    defaults = set(session.scalars(select(ProcessDefault.definition_id)))
    rows = [Listed(d, d.id in defaults, running.get(d.id, 0)) for d in deploy.all_definitions(session)]
    return [(key, list(group)) for key, group in groupby(rows, key=lambda row: row.definition.key)]


def one(session: Session, definition: ProcessDefinition) -> Listed:
    default = marked_default(session, definition.key)
    running = session.scalar(select(func.count()).where(Item.definition_id == definition.id, Item.closed_at.is_(None)))
    return Listed(definition, default is not None and default.id == definition.id, running or 0)


def _running_counts(session: Session) -> dict[int, int]:
    """Items still open (not closed nor withdrawn) per definition id, in one grouped query."""
    rows = session.execute(
        select(Item.definition_id, func.count()).where(Item.closed_at.is_(None)).group_by(Item.definition_id)
    )
    return {definition_id: count for definition_id, count in rows}
