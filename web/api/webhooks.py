"""Outgoing webhooks (网络钩子), kept by administrators; every change goes to the admin log."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.identity import permissions
from engine.notify import webhooks
from engine.store.models import User, Webhook
from web import db, trail
from web.api.blueprint import Blueprint
from web.api.webhook_schemas import WebhookCreatedSchema, WebhookCreateSchema, WebhookListSchema, WebhookSchema
from web.auth import check_first

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="网络钩子 Outgoing webhooks (administrators)")


def _admin(user: User, **_url_values: str) -> None:
    permissions.require_admin(user)


@blp.route("", methods=["GET"])
@check_first(_admin)
@blp.response(200, WebhookListSchema)
@blp.problems(403)
def list_webhooks() -> dict[str, Any]:
    """Every webhook, deleted ones too; never their secrets."""
    return {"webhooks": webhooks.listed(db.session())}


@blp.route("", methods=["POST"])
@check_first(_admin)
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookCreatedSchema)
@blp.problems(400, 403, 422)
def create_webhook(body: dict[str, Any]) -> Webhook:
    """A webhook told of the item events it names; the answer shows its secret, once."""
    return webhooks.create(db.session(), trail.caller(), request.remote_addr, body["url"], body["events"])


@blp.route("/<int:webhook_id>", methods=["DELETE"])
@check_first(_admin)
@blp.response(200, WebhookSchema, description="inactive: told of nothing more, pending deliveries dropped")
@blp.problems(403, 404)
def delete_webhook(webhook_id: int) -> Webhook:
    return webhooks.deactivate(db.session(), trail.caller(), request.remote_addr, webhook_id)
