"""问题来源 Sources: the office's own list, read by everyone who raises items, kept by administrators."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.identity import permissions
from engine.items import sources
from engine.store.models import Source, User
from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import SourceCreateSchema, SourceListSchema, SourceSchema
from web.auth import check_first, current_user

blp = Blueprint("sources", __name__, url_prefix="/sources", description="问题来源 Sources of problems")


def _admin(user: User, **_url_values: str) -> None:
    permissions.require_admin(user)


@blp.route("", methods=["GET"])
@blp.response(200, SourceListSchema)
@blp.problems()
def list_sources() -> dict[str, Any]:
    return {"sources": sources.listed(db.session())}


@blp.route("", methods=["POST"])
@check_first(_admin)
@blp.arguments(SourceCreateSchema)
@blp.response(201, SourceSchema)
@blp.problems(400, 403, 409)
def add_source(body: dict[str, Any]) -> Source:
    return sources.add(db.session(), current_user(), body["name"], request.remote_addr)


@blp.route("/<name>", methods=["DELETE"])
@check_first(_admin)
@blp.response(200, SourceSchema, description="taken off the list: new items cannot name it, old items keep it")
@blp.problems(403, 404)
def deactivate_source(name: str) -> Source:
    return sources.deactivate(db.session(), current_user(), name, request.remote_addr)
