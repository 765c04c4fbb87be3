"""Tasks: the inbox and completing a task."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.items import delegation, items, workflow
from engine.store.models import Task, User
from web import db
from web.api.blueprint import Blueprint
from web.api.presenters import item_payload, task_payloads
from web.api.schemas import AssignSchema, CompleteSchema, InboxQuerySchema, ItemSchema, TaskListSchema
from web.auth import check_first, current_user

blp = Blueprint("tasks", __name__, url_prefix="/tasks", description="待办 Tasks")


@blp.route("", methods=["GET"])
@blp.arguments(InboxQuerySchema, location="query")
@blp.response(200, TaskListSchema)
@blp.problems()
def inbox(query: dict[str, Any]) -> dict[str, Any]:
    """The tasks I may complete, a page at a time."""
    session = db.session()
    tasks, total = items.inbox(session, current_user(), db.today(), query["page"], query["per_page"])
    return {"tasks": task_payloads(session, tasks), "total": total, **query}


def _may_complete(user: User, task_id: int) -> Task:
    return workflow.authorize_task(db.session(), user, task_id)


@blp.route("/<int:task_id>/complete", methods=["POST"])
@check_first(_may_complete)
@blp.idempotent()
@blp.arguments(CompleteSchema)
@blp.response(200, ItemSchema)
@blp.problems(
    400,
    403,
    404,
    413,
    described={409: "The task is no longer ready", 412: "If-Match does not match the item's current ETag"},
)
def complete(body: dict[str, Any], task_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    item = workflow.complete_task(session, current_user(), task_id, body["data"], request.headers.get("If-Match"))
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}


def _may_assign(user: User, task_id: int) -> None:
    delegation.require_delegator(db.session(), user, task_id)


@blp.route("/<int:task_id>/assign", methods=["POST"])
@check_first(_may_assign)
@blp.arguments(AssignSchema)
@blp.response(200, ItemSchema)
@blp.problems(400, 403, 404, 413, described={409: "The task is no longer ready"})
def assign(body: dict[str, Any], task_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Give a unit's task (lane rule department_*/unit_*) to a manager or member of that unit (its managers only)."""
    session = db.session()
    item = delegation.assign(session, current_user(), task_id, body["assignee"])
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}
