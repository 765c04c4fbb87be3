"""What every page module shares: the CSRF guard, the languages, safe redirects, role checks, one-time forms."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from flask import abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.store.errors import RectiflowError
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


# marshmallow's English messages (``web.api.schemas``), as a page says them in the person's language.
_MARSHMALLOW: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Missing data for required field\.|Field may not be null\."), lambda m: _("此项为必填项")),
    (re.compile(r"Not a valid date\."), lambda m: _("请填写日期，如 2026-12-31")),
    (re.compile(r"Not a valid (integer|number)\."), lambda m: _("请填写数字")),
    (re.compile(r"Must be one of: .*"), lambda m: _("请从列表中选择")),
    (re.compile(r"Unknown field\."), lambda m: _("未知字段")),
    (re.compile(r"Longer than maximum length (?P<max>\d+)\."), lambda m: _("不能超过 %(n)s 个字", n=m["max"])),
    (re.compile(r"Shorter than minimum length (?P<min>\d+)\."), lambda m: _("至少 %(n)s 个字", n=m["min"])),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        lambda m: _("应为 %(min)s 至 %(max)s 个字", min=m["min"], max=m["max"]),
    ),
    (
        re.compile(r"Must be greater than or equal to (?P<min>\S+) and less than or equal to (?P<max>\S+)\."),
        lambda m: _("应在 %(min)s 至 %(max)s 之间", min=m["min"], max=m["max"]),
    ),
]


def _in_words(message: str) -> str:
    """One marshmallow message for a page: ours are already "中文 English"; its own English ones are translated."""
    if not message.isascii():
        return message
    for pattern, words in _MARSHMALLOW:
        found = pattern.fullmatch(message)
        if found:
            return words(found)
    return _("内容无效")


def _flat(messages: object) -> list[str]:
    """A field's messages, also those marshmallow keeps per element of a list ({0: [...]})."""
    if isinstance(messages, dict):
        return [message for inner in messages.values() for message in _flat(inner)]
    if isinstance(messages, list):
        return [message for inner in messages for message in _flat(inner)]
    return [str(messages)]


def field_errors(
    refusal: ValidationError | RectiflowError, hints: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """A refused form's messages as the pages show them, beside its fields (``_macros.html``: errors_for).

    marshmallow's messages (the API's schemas) are said in the person's words, or by the field's entry in
    ``hints`` (what the field accepts) when there is one. The engine's (its own checks, a task form's JSON
    Schema) are "中文 English" already, the page showing one half; the schema's ``data.<name>`` is the
    form's field ``<name>``.
    """
    if isinstance(refusal, ValidationError):
        return [
            {"field": name, "message": (hints or {}).get(name) or "；".join(_in_words(m) for m in _flat(messages))}
            for name, messages in refusal.normalized_messages().items()
        ]
    return [{**error, "field": _form_field(str(error.get("field", "")))} for error in refusal.errors]


def _form_field(name: str) -> str:
    """The form field an engine message names: a task form's answers are the API's ``data``."""
    path = name.split(".")
    return path[1] if path[0] == "data" and len(path) > 1 else name


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
            # One page may hold several forms with its token (the item page's progress and extension):
            # each form, known by where it posts, is sent once.
            key = f"{request.path} {token}"
            # No token (or one longer than we make): the form runs as one without the guard.
            keyed = bool(token) and len(key) <= KEY_MAX
            asked = Asked(me().id, key, once.digest([request.method, request.path])) if keyed else None
            return once.once(asked, lambda: make_response(view(*args, **kwargs)), _redirected, replay)

        return cast(F, wrapper)

    return decorator


def _redirected(response: Response) -> bool:
    return 300 <= response.status_code < 400
