"""通知 Notifications: the bell's list, newest first, in the page's language; opening one marks it read and shows
its item."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.items import notifications
from engine.notify import notification_text
from web import db
from web.pages.base import me, require_login
from web.pages.errors import handle_on

bp = Blueprint("bell", __name__, url_prefix="/notifications")
bp.before_request(require_login)
handle_on(bp)


@bp.get("")
def index() -> str:
    language = str(get_locale())
    shown = [(n, notification_text.describe(n, language)) for n in notifications.for_user(db.session(), me())]
    return render_template("notifications.html", notifications=shown)


@bp.post("/<int:notification_id>/open")
def open_one(notification_id: int) -> Response:
    """Read, and on to the item it is about (a POST: reading changes the count)."""
    found = notifications.mark_read(db.session(), me(), notification_id)
    if found.item_id is None:
        return redirect(url_for(".index"))
    return redirect(url_for("item.show", item_id=found.item_id))


@bp.post("/<int:notification_id>/read")
def read_one(notification_id: int) -> Response:
    notifications.mark_read(db.session(), me(), notification_id)
    return redirect(url_for(".index"))


@bp.post("/read")
def read_all() -> Response:
    notifications.mark_all_read(db.session(), me())
    flash(_("已全部标为已读"))
    return redirect(url_for(".index"))
