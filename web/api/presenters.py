"""Engine objects to API payloads (the schemas then shape and document them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from engine.items import assignment, due, incidents, items, progress
from engine.ledger.lasting import Lasting
from engine.store.models import Department, Item, Task


def task_payloads(session: Session, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    candidates = assignment.candidates_by_task(session, tasks)
    return [task_payload(task, candidates[task.id]) for task in tasks]


def task_payload(task: Task, candidates: list[str]) -> dict[str, Any]:
    return {
        "id": task.id,
        "item_id": task.item_id,
        "name": task.name,
        "title": task.title,
        "lane": task.lane,
        "state": task.state,
        "unit": task.instance_key,
        "candidates": candidates,
        "created_at": task.created_at,
    }


def _unit(department: Department) -> dict[str, str]:
    return {"code": department.code, "name": department.name}


def item_summary(item: Item, today: dt.date) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "source": item.source,
        "category": item.category,
        "severity": item.severity,
        "department": _unit(item.department),
        "deadline": item.deadline,
        "ongoing": item.ongoing,
        "warning": due.is_warning(item, today),
        "overdue": due.is_overdue(item, today),
        "status": item.status,
        "status_label": item.status_label,
        "owner": item.owner.username if item.owner else None,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_at": item.closed_at,
    }


def ledger_row(item: Item, lasting: Lasting, today: dt.date) -> dict[str, Any]:
    """An item as the ledger lists it: its summary and its 长效机制 marks."""
    return {
        **item_summary(item, today),
        "lasting": lasting.lasting,
        "came_back": lasting.came_back,
        "submissions": list(lasting.submissions),
    }


def _parts(session: Session, item: Item) -> dict[str, Any]:
    parts = items.parts(session, item)
    return {
        "parts": [
            {
                "department": _unit(part.unit.department),
                "role": part.unit.role,
                "state": part.state,
                "actor": part.actor,
                "contribution": part.submitted.get("contribution"),
                "data": part.submitted,
            }
            for part in parts
        ],
        "progress": {"done": sum(p.state == "done" for p in parts), "total": len(parts)} if parts else None,
    }


def item_payload(session: Session, item: Item, today: dt.date) -> dict[str, Any]:
    definition = items.definition_of(session, item)
    return {
        **item_summary(item, today),
        "latest_progress": progress.latest(session, item),
        **_parts(session, item),
        "co_departments": [_unit(unit.department) for unit in items.units(session, item) if unit.role == "co"],
        "description": item.description,
        "process": {"key": definition.key, "version": definition.version},
        "tasks": task_payloads(session, items.live_tasks(session, item)),
        "data": items.data_of(session, item),
        "incident": incidents.current(session, item),
    }
