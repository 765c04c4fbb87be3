"""My notifications (通知): newest first; mark one read."""

from __future__ import annotations

from typing import Any

from engine.items import notifications
from engine.store.models import Notification
from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import NotificationListSchema, NotificationSchema
from web.auth import current_user

blp = Blueprint("notifications", __name__, url_prefix="/notifications", description="通知 Notifications")


@blp.route("", methods=["GET"])
@blp.response(200, NotificationListSchema)
@blp.problems()
def list_notifications() -> dict[str, Any]:
    return {"notifications": notifications.for_user(db.session(), current_user())}


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@blp.problems(404)
def mark_read(notification_id: int) -> Notification:
    return notifications.mark_read(db.session(), current_user(), notification_id)
