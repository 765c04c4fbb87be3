"""The web pages: server-rendered Jinja over the same ``engine`` services as the API.

Chinese first, English on request (Flask-Babel, catalogue in ``web/translations``). Every page but
the login needs a browser session (``web.browser_session``); every form posts a CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, session
from flask_babel import Babel, get_locale

from engine.identity import permissions
from engine.identity.identity import Role
from engine.items import due
from engine.items.notifications import unread_count
from engine.store import severity
from engine.store.models import User
from web import browser_session, db
from web.pages import (
    account,
    actions,
    admin,
    audit,
    dashboard,
    decision_tables,
    designer,
    evidence,
    inbox,
    intake,
    item,
    ledger,
    measures,
    migrations,
    notifications,
    reports,
    text,
)
from web.pages.base import LOCALE_KEY, LOCALES, csrf, once_token

# Pages a person sees only with one of these roles (the page itself checks again what it shows).
NAV_ROLES = {
    "designer.processes": {Role.DESIGNER},
    "decision_tables.index": {Role.DESIGNER},
    "admin.people": {Role.ADMIN},
    "report_pages.index": permissions.REPORT_READERS,
    "auditor.history": {Role.AUDITOR},
    "intake.queue": {Role.REPORTER, Role.MANAGER},
}


def _locale() -> str:
    """Simplified Chinese unless the person chose English (top right), whatever the browser asks."""
    chosen = session.get(LOCALE_KEY)
    return str(chosen) if chosen in LOCALES else "zh"


def _template_globals() -> dict[str, Any]:
    user = browser_session.current_user_or_none()
    return {
        "me": user,
        "locale": str(get_locale()),
        "may_see": lambda endpoint: _may_see(user, endpoint),
        # The bell's count, on every page of a logged-in person: one indexed COUNT.
        "unread": unread_count(db.session(), user) if user is not None else 0,
    }


def _may_see(user: User | None, endpoint: str) -> bool:
    roles = NAV_ROLES.get(endpoint)
    return user is not None and (roles is None or bool(user.roles & roles))


def _pick(value: object) -> str:
    return text.pick(value, str(get_locale()))


def init_pages(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the API uses bearer tokens, not cookies
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    csrf.init_app(app)
    Babel(app, locale_selector=_locale, default_locale="zh")
    app.context_processor(_template_globals)
    app.jinja_env.filters.update(
        day=text.day,
        moment=text.moment,
        filesize=text.size,
        pick=_pick,
        due_state=lambda item: due.state(item, db.today()) or "",
        severity=lambda value: _pick(severity.label(value)),
    )
    app.jinja_env.globals["severities"] = severity.SEVERITIES
    app.jinja_env.globals["once_token"] = once_token  # {{ once_token() }} in a form: see web.once
    app.jinja_env.globals["warning_days"] = due.WARNING_DAYS  # global: imported macros see no page context
    app.register_blueprint(account.bp)
    for module in (
        inbox,
        ledger,
        item,
        actions,
        designer,
        decision_tables,
        migrations,
        dashboard,
        reports,
        admin,
        notifications,
        audit,
        intake,
        evidence,
        measures,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(evidence.upload_bp)
    app.register_blueprint(intake.public_bp)
