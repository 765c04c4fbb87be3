"""Browser sessions: Flask's signed session cookie names the user, when they logged in, and the generation.

The cookie alone cannot be taken back, so it carries the user's ``session_generation`` of its login and
is honoured only while the user's row still has that number: logout, a new password, deactivation and
an administrator's "sign out everywhere" raise it, and every cookie issued before is dead.
The API keeps its bearer tokens; this session serves the browser (single sign-on, the pages).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, session
from flask_wtf.csrf import generate_csrf

from engine.identity import identity
from engine.store.errors import RectiflowError
from engine.store.models import User
from web import db
from web.security import csrf

USER_KEY, LOGIN_KEY, GENERATION_KEY = "user_id", "login_at", "generation"
SECRET_FILE = "secret_key"

blp = Blueprint("browser_session", __name__, url_prefix="/auth")


class NotLoggedIn(RectiflowError):
    """Nobody is logged in in this browser: log in first."""


def instance_secret(instance_path: Path) -> str:
    """The instance folder's session key, made once (mode 0600); every process on the folder reads the same."""
    path = instance_path / SECRET_FILE
    if not path.exists():
        # Written under a private name, then linked into place: a racing process either wins the
        # link or reads the winner's complete file, never a half-written one.
        draft = instance_path / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def login(user: User) -> None:
    """Start a fresh session for ``user`` (anything the session held before is dropped)."""
    session.clear()
    session[USER_KEY] = user.id
    session[LOGIN_KEY] = int(time.time())
    session[GENERATION_KEY] = user.session_generation or 0
    g.browser_user = user


def logout() -> None:
    """End this session and, with it, every other browser session of the same user (a copied cookie too)."""
    user = current_user_or_none()
    if user is not None:
        identity.end_sessions(user)
    session.clear()
    g.pop("browser_user", None)


def current_user_or_none() -> User | None:
    """The logged-in user; None when nobody is, the session is older than allowed, or the user was deactivated."""
    if "browser_user" not in g:
        g.browser_user = _load()
    user: User | None = g.browser_user
    return user


def _load() -> User | None:
    user_id, login_at, generation = session.get(USER_KEY), session.get(LOGIN_KEY), session.get(GENERATION_KEY)
    if not isinstance(user_id, int) or not isinstance(login_at, int) or not isinstance(generation, int):
        return None
    if time.time() - login_at > db.settings().session_hours * 3600:
        return None
    user = db.session().get(User, user_id)
    if user is None or not user.active or user.session_generation != generation:
        return None
    return user


@blp.get("/session")
def who() -> dict[str, Any]:
    user = current_user_or_none()
    if user is None:
        raise NotLoggedIn()
    return {
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department.code if user.department else None,
        "roles": sorted(user.roles),
        "login_at": dt.datetime.fromtimestamp(session[LOGIN_KEY], dt.UTC).isoformat(),
        # For scripts in the page: send it back as ``X-CSRFToken`` with ``POST /auth/logout``.
        "csrf_token": generate_csrf(),
    }


@blp.post("/logout")
def end() -> Response:
    # Else another site could log a person out (or, with a stolen cookie, keep them from noticing).
    csrf.protect()
    logout()
    return Response(status=204)
