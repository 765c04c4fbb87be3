"""Comparing two versions of a process for the people who run it: the diff, and the running items it concerns."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from engine.bpmn.diff import Reason, VersionDiff, compare
from engine.store.errors import NotFound
from engine.store.models import Item, ProcessDefinition, Task

_WAITING = ("ready", "waiting")


@dataclass(frozen=True)
class AffectedItem:
    """An item of the older version waiting at a step (``element``) that the newer version removes or alters."""

    item_id: int
    title: str
    element: str
    # The step's name as the item shows it (the older version's).
    name: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Comparison:
    diff: VersionDiff
    affected: tuple[AffectedItem, ...]


def _version(session: Session, key: str, version: int, side: str) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition)
        .options(undefer(ProcessDefinition.bpmn_xml), undefer(ProcessDefinition.specs))
        .where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    )
    if definition is None:
        message = f"流程 {key!r} 没有第 {version} 版 No process {key!r} version {version}"
        raise NotFound(message, errors=[{"field": side, "message": message}])
    return definition


def affected_items(session: Session, before: ProcessDefinition, diff: VersionDiff) -> list[AffectedItem]:
    """One row per item and step it waits at, in item order; one query whatever the number of items.

    Only the item's own steps: a step of a process its call activity called is an element of that process
    (``Task.definition_id``), which may share its id with one of ``before`` and is not what ``diff`` compares.
    """
    if not diff.reasons:
        return []
    rows = session.execute(
        select(Task.item_id, Item.title, Task.name, Task.title)
        .join(Item, Item.id == Task.item_id)
        .where(
            Item.definition_id == before.id,
            Task.definition_id.is_(None),
            Task.state.in_(_WAITING),
            Task.name.in_(diff.reasons),
        )
        .distinct()
        .order_by(Task.item_id, Task.name)
    )
    return [
        AffectedItem(item_id, title, element, name, diff.reasons[element]) for item_id, title, element, name in rows
    ]


def compare_versions(session: Session, key: str, before: int, after: int) -> Comparison:
    """Version ``after`` of process ``key`` against version ``before``; a missing one is named ``from``/``to``."""
    older = _version(session, key, before, "from")
    newer = _version(session, key, after, "to")
    diff = compare(older, newer)
    return Comparison(diff, tuple(affected_items(session, older, diff)))
