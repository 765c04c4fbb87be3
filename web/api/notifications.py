"""My notifications (通知): newest first; mark one read. Said in the language ``Accept-Language`` prefers."""

from __future__ import annotations

from typing import Any

from engine.items import notifications
from engine.notify import notification_text
from engine.store.models import Notification
from web import db
from web.api.blueprint import Blueprint
from web.api.language import requested_language
from web.api.schemas import NotificationListSchema, NotificationSchema
from web.auth import current_user

blp = Blueprint("notifications", __name__, url_prefix="/notifications", description="通知 Notifications")


def _said(notification: Notification, language: str | None) -> dict[str, Any]:
    title, message = notification_text.describe(notification, language)
    return {
        "id": notification.id,
        "kind": notification.kind,
        "item_id": notification.item_id,
        "data": notification.data,
        "title": title,
        "message": message,
        "created_at": notification.created_at,
        "read": notification.read_at is not None,
    }


@blp.route("", methods=["GET"])
@blp.response(200, NotificationListSchema)
@blp.problems()
def list_notifications() -> dict[str, Any]:
    language = requested_language()
    return {"notifications": [_said(n, language) for n in notifications.for_user(db.session(), current_user())]}


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@blp.problems(404)
def mark_read(notification_id: int) -> dict[str, Any]:
    return _said(notifications.mark_read(db.session(), current_user(), notification_id), requested_language())
