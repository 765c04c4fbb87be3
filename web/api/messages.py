"""BPMN messages from outside: one that starts an item, or reaches the item of a business key."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import ValidationError

from engine.items import messages, workflow
from engine.store.errors import InvalidInput
from web import db
from web.api.blueprint import Blueprint
from web.api.presenters import item_payload
from web.api.schemas import ItemCreateSchema, ItemSchema, MessageStartSchema
from web.auth import current_user

blp = Blueprint("messages", __name__, url_prefix="/messages", description="消息 BPMN messages")

MESSAGE_PROBLEMS = {
    404: "No item or process takes this message (in the admin log, `message.undelivered`)",
    409: "The item is not waiting for this message, or several processes start on it (in the admin log)",
}
# The new item's fields among a starting message's variables, checked as POST /items checks them.
_ITEM_FIELDS = ItemCreateSchema(only=messages.ITEM_FIELDS)


def _item_fields(variables: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = _ITEM_FIELDS.load({k: v for k, v in variables.items() if k in messages.ITEM_FIELDS})
    except ValidationError as exc:
        found = exc.normalized_messages().items()
        errors = [{"field": f"variables.{field}", "message": " ".join(map(str, texts))} for field, texts in found]
        detail = "消息缺少或含有无效的事项字段 The message lacks the new item's fields, or has invalid ones"
        raise InvalidInput(detail, errors) from exc
    return loaded


@blp.route("", methods=["POST"])
@blp.arguments(MessageStartSchema)
@blp.idempotent()
@blp.response(201, ItemSchema, description="a process's start event caught the message: a new item")
@blp.alt_response(200, schema=ItemSchema, description="the item of `business_key` caught it")
@blp.problems(400, 403, 413, described=MESSAGE_PROBLEMS)
def send(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Correlate a message: to the item of its business key (as `POST /items/{id}/messages`), else to the process
    whose start event waits for it, which starts a new item. The variables `title` and `department` (required),
    `description`, `source`, `category`, `severity`, `deadline`, `ongoing` are the new item's fields (as
    `POST /items` takes them), never process data; the others are. Reporters start items; approvers and
    administrators send to one."""
    session, key, variables = db.session(), body["business_key"], body["variables"]
    # The item's fields make a new item; they are never its process's data.
    message = workflow.Message(body["name"], {k: v for k, v in variables.items() if k not in messages.ITEM_FIELDS})
    item_id = messages.correlated(session, key) if key is not None else None
    if item_id is not None:
        item = messages.deliver(session, current_user(), item_id, message, request.remote_addr)
        status = 200
    else:
        process = messages.starting_process(session, current_user(), message)
        fields = _item_fields(variables)
        item = messages.start(session, current_user(), process, message, fields, db.settings().timezone, key)
        status = 201
    return item_payload(session, item, db.today()), status, {"ETag": workflow.etag(item)}
