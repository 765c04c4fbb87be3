"""Items: raise, list, read, history."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from engine import history, items, permissions, workflow
from web import db
from web.api.presenters import item_payload, item_summary
from web.api.schemas import HistorySchema, ItemCreateSchema, ItemPageSchema, ItemQuerySchema, ItemSchema
from web.auth import authenticate, check_first, current_user

blp = Blueprint("items", __name__, url_prefix="/items", description="整改事项 Rectification items")
blp.before_request(authenticate)


@blp.route("", methods=["GET"])
@blp.arguments(ItemQuerySchema, location="query")
@blp.response(200, ItemPageSchema)
def list_items(query: dict[str, Any]) -> dict[str, Any]:
    flt = items.ItemFilter(**query)
    found, total = items.list_items(db.session(), current_user(), flt)
    return {"items": [item_summary(item) for item in found], "total": total, "page": flt.page, "per_page": flt.per_page}


@blp.route("", methods=["POST"])
@check_first(permissions.require_reporter)
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemSchema)
def create_item(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    new = workflow.NewItem(**{**body, "co_departments": tuple(body["co_departments"])})
    item = workflow.create_item(session, current_user(), new)
    return item_payload(session, item), 201, {"ETag": workflow.etag(item), "Location": f"/api/v1/items/{item.id}"}


@blp.route("/<int:item_id>", methods=["GET"])
@blp.response(200, ItemSchema)
def get_item(item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return item_payload(session, item), 200, {"ETag": workflow.etag(item)}


@blp.route("/<int:item_id>/history", methods=["GET"])
@blp.response(200, HistorySchema)
def get_history(item_id: int) -> dict[str, Any]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return {"events": history.events(session, item.id)}
