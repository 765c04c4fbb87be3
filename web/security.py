"""Security headers, cookie flags, CSRF, safe redirects, trusted proxies, the login limits (flask-limiter store)."""

from __future__ import annotations

import math
import time
import unicodedata
from urllib.parse import unquote, urlsplit

import limits
from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.identity import identity
from engine.store.config import Settings
from web import trail

# No inline script anywhere (the docs page loads its initialiser from a file). Swagger UI sets inline
# style attributes and draws icons from data: URIs, hence those two allowances for styles and images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
TOO_MANY = "登录失败次数过多，请稍后再试 Too many failed logins: try again later"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# The login counters' store (``RECTIFLOW_RATELIMIT_STORAGE_URI``); the login views count through
# ``count_login_attempt``. A moving window: a locked-out name stays locked until its oldest attempt is a
# full window old.
limiter = Limiter(get_remote_address, strategy="moving-window", key_prefix="rectiflow")
# The pages' forms and the browser session's logout carry this token (the API uses bearer tokens instead).
csrf = CSRFProtect()


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def is_local_path(target: str | None) -> bool:
    """Whether ``target`` is a path on this site, the one check for every ``next=`` redirect.

    Browsers drop tabs and newlines inside a URL and treat ``\\`` as ``/``: ``/\t/evil.example``
    and ``/\\evil.example`` would leave the site, and a newline cannot go in a header at all.
    """
    if not target or not target.startswith("/"):
        return False
    for text in (target, unquote(target)):
        if text.startswith("//") or "\\" in text or any(unicodedata.category(char) == "Cc" for char in text):
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


class TooManyLogins(TooManyRequests):
    description = TOO_MANY


def count_login_attempt(username: str) -> None:
    """Count a login attempt against its (normalised) name and its address *before* its password is checked.

    Counting first means parallel attempts cannot all be checked before any is counted: the store's
    hit is atomic, so at most the limit's number of attempts per window ever reach the password check.
    """
    settings: Settings = current_app.config["RECTIFLOW_SETTINGS"]
    checks = (
        ("user", settings.login_limit, identity.normal_username(username)),
        ("address", settings.login_address_limit, request.remote_addr or "-"),
    )
    for scope, limit, key in checks:
        item = limits.parse(limit)
        if not limiter.limiter.hit(item, "rectiflow", f"login-{scope}", key):
            _log_lock_out(item, scope, key, username)
            reset_at, _remaining = limiter.limiter.get_window_stats(item, "rectiflow", f"login-{scope}", key)
            raise TooManyLogins(retry_after=max(1, math.ceil(reset_at - time.time())))


def login_succeeded(username: str) -> None:
    """A right password clears its name's count: people who type their password right are never locked.

    The address's count stays: one account's right password must not buy another round of guesses.
    """
    item = limits.parse(current_app.config["RECTIFLOW_SETTINGS"].login_limit)
    limiter.limiter.clear(item, "rectiflow", "login-user", identity.normal_username(username))


def _log_lock_out(item: limits.RateLimitItem, scope: str, key: str, username: str) -> None:
    """``login.locked`` once per lock-out, not for every refused attempt."""
    once = limits.RateLimitItemPerSecond(1, item.get_expiry())
    if limiter.limiter.hit(once, "login.locked", scope, key):
        trail.record_apart("login.locked", identity.normal_username(username), scope=scope, limit=str(item))


def init_app(app: Flask, settings: Settings) -> None:
    # Refuse a malformed limit at start-up rather than at the first login.
    for limit in (settings.login_limit, settings.login_address_limit):
        limits.parse(limit)
    app.config.update(
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax: the cookie still comes back on a single sign-on provider's redirect to the callback (a
        # top-level GET), but not on cross-site POSTs.
        SESSION_COOKIE_SAMESITE="Lax",
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
    )
    limiter.init_app(app)
    app.after_request(_add_headers)
    if settings.trusted_proxies:
        # Only the last N hops are trusted: X-Forwarded-For entries a client wrote itself are ignored.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
