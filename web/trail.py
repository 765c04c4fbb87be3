"""Writing the admin log from a request: who (the caller), from where (its address), and in which transaction."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine.audit import admin_log
from engine.identity import administration
from web import db


def caller() -> str | None:
    """The caller's username (bearer token, or the browser session of the pages); None when unknown."""
    user = g.get("user") or g.get("browser_user")
    return user.username if user is not None else None


def actor() -> administration.Actor:
    """Who makes this request and from where, for the engine's logged administrative changes."""
    return administration.Actor(caller(), request.remote_addr)


def record(action: str, target: str | None = None, **detail: Any) -> None:
    """Log an admin action in the request's transaction: it lands only if the change does."""
    admin_log.record(db.session(), caller(), action, target, request.remote_addr, **detail)


def record_apart(action: str, target: str | None = None, *, actor: str | None = None, **detail: Any) -> None:
    """Log what the request is refused for (a denial, a failed login): it must land although the request fails."""
    with db.apart() as session:
        admin_log.record(session, actor, action, target, request.remote_addr, **detail)


def denied(reason: str) -> None:
    """Every 403 is logged with its caller, method and path."""
    # Read before ``apart`` rolls the request back (the user row is then reloaded from the database).
    actor = caller()
    record_apart("denied", f"{request.method} {request.path}", actor=actor, reason=reason)
