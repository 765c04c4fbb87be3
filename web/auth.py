"""Bearer-token authentication and the "check before the body" decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from engine import identity
from engine.errors import RectiflowError
from engine.models import User
from web import db

F = TypeVar("F", bound=Callable[..., Any])


class Unauthenticated(RectiflowError):
    """Missing or unknown token: send ``Authorization: Bearer <token>``."""


def authenticate() -> None:
    """``before_request`` hook of the protected blueprints: every request there needs a known token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = identity.authenticate(db.session(), token.strip()) if scheme.lower() == "bearer" and token else None
    if user is None:
        raise Unauthenticated()
    g.user = user


def current_user() -> User:
    user: User = g.user
    return user


def check_first(check: Callable[..., None]) -> Callable[[F], F]:
    """Run ``check(user, **view_kwargs)`` before the request body is parsed.

    A caller without the right gets 403 whatever it sent, malformed or not.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(current_user(), **kwargs)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
