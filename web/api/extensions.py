"""Deadline extensions (延期): the owner requests, an approver decides."""

from __future__ import annotations

from typing import Any

from engine.deadlines import extensions
from engine.items import items
from engine.store.models import ExtensionRequest, User
from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import ExtensionCreateSchema, ExtensionDecisionSchema, ExtensionListSchema, ExtensionSchema
from web.auth import check_first, current_user

blp = Blueprint("extensions", __name__, url_prefix="", description="延期 Deadline extensions")


def _may_request(user: User, item_id: int) -> None:
    extensions.require_requester(user, items.get_visible(db.session(), user, item_id))


@blp.route("/items/<int:item_id>/extensions", methods=["POST"])
@check_first(_may_request)
@blp.arguments(ExtensionCreateSchema)
@blp.idempotent()
@blp.response(201, ExtensionSchema)
@blp.problems(400, 403, 404, 413)
def request_extension(body: dict[str, Any], item_id: int) -> ExtensionRequest:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return extensions.request(session, current_user(), item, body["new_deadline"], body["reason"], db.today())


@blp.route("/items/<int:item_id>/extensions", methods=["GET"])
@blp.response(200, ExtensionListSchema)
@blp.problems(404)
def list_extensions(item_id: int) -> dict[str, Any]:
    session = db.session()
    return {"extensions": extensions.for_item(session, items.get_visible(session, current_user(), item_id))}


def _may_decide(user: User, request_id: int) -> None:
    found = db.session().get(ExtensionRequest, request_id)
    if found is not None:
        extensions.require_decider(user, found)


@blp.route("/extensions/<int:request_id>/decision", methods=["POST"])
@check_first(_may_decide)
@blp.arguments(ExtensionDecisionSchema)
@blp.response(200, ExtensionSchema)
@blp.problems(400, 403, 404, 413)
def decide(body: dict[str, Any], request_id: int) -> ExtensionRequest:
    decision = extensions.Decision(grant=body["decision"] == "grant", comment=body.get("comment"))
    return extensions.decide(db.session(), current_user(), request_id, decision, db.settings().timezone)
