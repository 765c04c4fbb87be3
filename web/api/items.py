"""Items: raise, list, read, history."""

from __future__ import annotations

from typing import Any

from engine import history, items, permissions, progress, workflow
from engine.models import ProgressUpdate, User
from web import db
from web.api.blueprint import Blueprint
from web.api.presenters import item_payload, item_summary
from web.api.schemas import (
    HistorySchema,
    ItemCreateSchema,
    ItemPageSchema,
    ItemQuerySchema,
    ItemSchema,
    ProgressCreateSchema,
    ProgressListSchema,
    ProgressUpdateSchema,
)
from web.auth import check_first, current_user

blp = Blueprint("items", __name__, url_prefix="/items", description="整改事项 Rectification items")


@blp.route("", methods=["GET"])
@blp.arguments(ItemQuerySchema, location="query")
@blp.response(200, ItemPageSchema)
@blp.problems()
def list_items(query: dict[str, Any]) -> dict[str, Any]:
    flt = items.ItemFilter(**query)
    today = db.today()
    found, total = items.list_items(db.session(), current_user(), flt, today)
    summaries = [item_summary(item, today) for item in found]
    return {"items": summaries, "total": total, "page": flt.page, "per_page": flt.per_page}


@blp.route("", methods=["POST"])
@check_first(permissions.require_reporter)
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemSchema)
@blp.problems(400, 403, 413)
def create_item(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    new = workflow.NewItem(**{**body, "co_departments": tuple(body["co_departments"])})
    item = workflow.create_item(session, current_user(), new, db.settings().timezone)
    return (
        item_payload(session, item, db.today()),
        201,
        {"ETag": workflow.etag(item), "Location": f"/api/v1/items/{item.id}"},
    )


@blp.route("/<int:item_id>", methods=["GET"])
@blp.response(200, ItemSchema)
@blp.problems(404)
def get_item(item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}


@blp.route("/<int:item_id>/history", methods=["GET"])
@blp.response(200, HistorySchema)
@blp.problems(404)
def get_history(item_id: int) -> dict[str, Any]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return {"events": history.events(session, item.id), "pruned": history.pruned(session, item.id)}


def _may_report_progress(user: User, item_id: int) -> None:
    session = db.session()
    permissions.require_progress_reporter(session, user.id, items.get_visible(session, user, item_id))


@blp.route("/<int:item_id>/progress", methods=["POST"])
@check_first(_may_report_progress)
@blp.arguments(ProgressCreateSchema)
@blp.response(201, ProgressUpdateSchema)
@blp.problems(400, 403, 404, 413)
def report_progress(body: dict[str, Any], item_id: int) -> ProgressUpdate:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return progress.report(session, current_user().id, item, progress.NewProgress(**body))


@blp.route("/<int:item_id>/progress", methods=["GET"])
@blp.response(200, ProgressListSchema)
@blp.problems(404)
def list_progress(item_id: int) -> dict[str, Any]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return {"updates": progress.updates(session, item)}
