"""What every page module shares: the CSRF guard, the languages, safe redirects, role checks."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
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


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """marshmallow's messages as the pages show them: one message per field, beside that field."""
    return [
        {"field": name, "message": "；".join(_in_words(message) for message in _flat(messages))}
        for name, messages in error.normalized_messages().items()
    ]


def me() -> User:
    """The logged-in person (every page blueprint but the login's requires one)."""
    user = browser_session.current_user_or_none()
    if user is None:
        abort(401)
    return user
