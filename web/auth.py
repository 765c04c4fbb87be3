"""Bearer-token authentication and the "check before the body" decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request
from sqlalchemy.orm.attributes import set_committed_value

from engine.identity import identity
from engine.store.errors import RectiflowError
from engine.store.models import ApiToken, User, utcnow
from web import db

F = TypeVar("F", bound=Callable[..., Any])


class Unauthenticated(RectiflowError):
    """Missing, unknown, expired or revoked token: send ``Authorization: Bearer <token>``."""


def _bearer_token() -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case), or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticate() -> None:
    """``before_request`` hook of the protected blueprints: every request there needs a live token."""
    token = _bearer_token()
    row = identity.authenticate(db.session(), token, note=db.writes()) if token else None
    if row is None:
        raise Unauthenticated()
    if not db.writes():
        _note_use(row)
    g.token, g.user = row, row.user


def _note_use(row: ApiToken) -> None:
    """A reading request notes its token's use apart, and only if that needs no waiting for a writer."""
    now = utcnow()
    if identity.use_due(row, now) and db.aside(lambda session: identity.note_use(session, row.id, now)):
        # The request's own transaction still sees the old value; show it the one just written.
        set_committed_value(row, "last_used_at", now)


def current_user() -> User:
    user: User = g.user
    return user


def current_token() -> ApiToken:
    """The token this request was made with."""
    token: ApiToken = g.token
    return token


def check_first(check: Callable[..., object]) -> Callable[[F], F]:
    """Run ``check(user, **view_kwargs)`` before the request body is parsed.

    A caller without the right gets 403 whatever it sent, malformed or not. What the check returns (the
    row it looked at) stays referenced for the request, so the view finds it in the session, not anew.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.checked = check(current_user(), **kwargs)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
