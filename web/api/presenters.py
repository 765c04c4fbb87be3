"""Engine objects to API payloads (the schemas then shape and document them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine import assignment, items
from engine.models import Item, Task


def task_payload(session: Session, task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "item_id": task.item_id,
        "name": task.name,
        "title": task.title,
        "lane": task.lane,
        "state": task.state,
        "candidates": assignment.candidate_usernames(session, task),
        "created_at": task.created_at,
    }


def _department(item: Item) -> dict[str, str]:
    return {"code": item.department.code, "name": item.department.name}


def item_summary(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "source": item.source,
        "category": item.category,
        "department": _department(item),
        "deadline": item.deadline,
        "status": item.status,
        "status_label": item.status_label,
        "owner": item.owner.username if item.owner else None,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_at": item.closed_at,
    }


def item_payload(session: Session, item: Item) -> dict[str, Any]:
    definition = items.definition_of(session, item)
    return {
        **item_summary(item),
        "description": item.description,
        "process": {"key": definition.key, "version": definition.version},
        "tasks": [task_payload(session, task) for task in items.live_tasks(session, item)],
        "data": items.data_of(session, item),
    }
