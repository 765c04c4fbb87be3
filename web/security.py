"""Security headers on every response, cookie flags, and the login rate limiter (flask-limiter)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import limits
from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

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
F = TypeVar("F", bound=Callable[..., Any])
TOO_MANY = "登录失败次数过多，请稍后再试 Too many failed logins: try again later"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# Counters per client address by default; the login view adds a per-username limit.
# A moving window: a locked-out name stays locked until its oldest failure is a full window old.
limiter = Limiter(get_remote_address, headers_enabled=True, strategy="moving-window", key_prefix="rectiflow")


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def claimed_username() -> str:
    """The username a login request names (the API's JSON body or the login page's form): the per-user key."""
    body = request.get_json(silent=True) if request.is_json else request.form
    name = body.get("username") if isinstance(body, Mapping) else None
    # A body without a name is refused (422) before any password is checked and costs nothing.
    return name if isinstance(name, str) and name else "-"


def failed(response: Response) -> bool:
    """Only refused logins count towards a lock-out: people who type their password right are never locked."""
    return response.status_code == 401


def lockout_logger(scope: str) -> Callable[[RequestLimit], None]:
    """An ``on_breach`` callback writing ``login.locked`` once per lock-out, not for every refused attempt."""

    def log(breached: RequestLimit) -> None:
        once = limits.RateLimitItemPerSecond(1, breached.limit.get_expiry())
        if limiter.limiter.hit(once, "login.locked", breached.key):
            trail.record_apart("login.locked", claimed_username(), scope=scope, limit=str(breached.limit))

    return log


def login_limits(view: F) -> F:
    """Failed logins counted per claimed username and per address, shared by the API and the login page."""
    per_user = limiter.limit(
        lambda: current_app.config["RECTIFLOW_SETTINGS"].login_limit,
        key_func=claimed_username,
        scope="login-user",
        deduct_when=failed,
        on_breach=lockout_logger("user"),
        error_message=TOO_MANY,
    )
    per_address = limiter.limit(
        lambda: current_app.config["RECTIFLOW_SETTINGS"].login_address_limit,
        scope="login-address",
        deduct_when=failed,
        on_breach=lockout_logger("address"),
        error_message=TOO_MANY,
    )
    return cast(F, per_user(per_address(view)))


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
