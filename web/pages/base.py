"""What every page module shares: the CSRF guard, the languages, safe redirects, role checks."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.store.models import User
from web import browser_session
from web.security import csrf, is_local_path

__all__ = ["LOCALES", "LOCALE_KEY", "csrf", "field_errors", "local_path", "me", "require_login"]
LOCALES = ("zh", "en")
LOCALE_KEY = "locale"


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site (``web.security.is_local_path``), else ``default``."""
    return target if target is not None and is_local_path(target) else default


def require_login() -> Response | None:
    """Every page but the login's: a browser session, and a CSRF token on each form posted."""
    if browser_session.current_user_or_none() is None:
        return redirect(url_for("account.form", next=request.full_path.rstrip("?")))
    if request.method == "POST":
        csrf.protect()
    return None


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """marshmallow's messages as the pages show them: one message per field, beside that field."""
    return [{"field": name, "message": "; ".join(messages)} for name, messages in error.normalized_messages().items()]


def me() -> User:
    """The logged-in person (every page blueprint but the login's requires one)."""
    user = browser_session.current_user_or_none()
    if user is None:
        abort(401)
    return user
