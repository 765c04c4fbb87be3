"""My notifications (通知): newest first; mark one read."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from engine import notifications
from engine.models import Notification
from web import db
from web.api.schemas import NotificationListSchema, NotificationSchema
from web.auth import authenticate, current_user

blp = Blueprint("notifications", __name__, url_prefix="/notifications", description="通知 Notifications")
blp.before_request(authenticate)


@blp.route("", methods=["GET"])
@blp.response(200, NotificationListSchema)
def list_notifications() -> dict[str, Any]:
    return {"notifications": notifications.for_user(db.session(), current_user())}


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
def mark_read(notification_id: int) -> Notification:
    return notifications.mark_read(db.session(), current_user(), notification_id)
