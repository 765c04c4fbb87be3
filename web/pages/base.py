"""What every page module shares: the CSRF guard, the languages, safe redirects, role checks, one-time forms."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, flash, make_response, redirect, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.store.idempotency import KEY_MAX, Asked
from engine.store.models import User
from web import browser_session, once
from web.security import csrf, is_local_path

__all__ = [
    "LOCALES",
    "LOCALE_KEY",
    "csrf",
    "field_errors",
    "local_path",
    "me",
    "once_form",
    "once_token",
    "once_url",
    "require_login",
]
F = TypeVar("F", bound=Callable[..., Any])
LOCALES = ("zh", "en")
LOCALE_KEY = "locale"
ONCE_FIELD = "once_token"


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


def once_token() -> Markup:
    """A form's one-time token as a hidden field (``{{ once_token() }}``): the one its page's URL carries.

    A form sent back with errors keeps the token it was posted with: nothing was kept under it yet.
    """
    token = request.values.get(ONCE_FIELD) or _new_token()
    return Markup('<input type="hidden" name="{}" value="{}">').format(ONCE_FIELD, token)


def once_url(view: F) -> F:
    """The page of a form with ``once_token()``: its token rides in the URL, so a page fetched again keeps it.

    The back button may fetch a page again (browsers restore the fields typed, not a hidden token); a
    token drawn anew would make the form's second post a new one.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.args.get(ONCE_FIELD):
            return view(*args, **kwargs)
        values: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict(flat=False)}
        values[ONCE_FIELD] = _new_token()
        return redirect(url_for(request.endpoint or "", **values))

    return cast(F, wrapper)


def _new_token() -> str:
    return secrets.token_urlsafe(16)


def once_form(message: object) -> Callable[[F], F]:
    """A view whose form carries ``once_token()``: posted again, it redirects where it first did, with ``message``.

    The token stands for the form as it was drawn, whatever was typed into it (``web.once``).
    """

    def replay(outcome: dict[str, Any]) -> Response:
        flash(str(message))
        return redirect(outcome["headers"]["Location"])

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            token = request.form.get(ONCE_FIELD, "")
            # No token (or one longer than we make): the form runs as one without the guard.
            keyed = 0 < len(token) <= KEY_MAX
            asked = Asked(me().id, token, once.digest([request.method, request.path])) if keyed else None
            return once.once(asked, lambda: make_response(view(*args, **kwargs)), _redirected, replay)

        return cast(F, wrapper)

    return decorator


def _redirected(response: Response) -> bool:
    return 300 <= response.status_code < 400
