"""What every page module shares: the CSRF guard, the languages, safe redirects, role checks."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.store.models import User
from web import browser_session

LOCALES = ("zh", "en")
LOCALE_KEY = "locale"
csrf = CSRFProtect()


def local_path(target: str | None, default: str = "/") -> str:
    """Only a path on this site: ``next=https://elsewhere`` or ``//elsewhere`` must not redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


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
