"""One database session per request; the request's outcome decides commit or rollback, here only.

Whether the request's transaction writes is decided by its method, before it begins: GET, HEAD
and OPTIONS only read (on SQLite: no write lock, and any write in them fails at once), every other
method may write (on SQLite: the write lock from the first statement, so it never fails on upgrade).
A GET that writes says so (:func:`writes_on_get`). What a reading request must write anyway goes
apart: a denial through :func:`apart`, a token's last use through :func:`aside`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.evidence.storage import FileStore
from engine.store import clock
from engine.store.config import Settings
from engine.store.db import if_free, make_session_factory, reading, transaction

READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = "rectiflow_writes_on_get"
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask, engine: Engine, audit_key: bytes) -> None:
    app.extensions["rectiflow_engine"] = engine
    app.extensions["rectiflow_sessions"] = make_session_factory(engine, audit_key)
    app.extensions["rectiflow_reading_engine"] = reading(engine)
    app.after_request(_finish)
    app.teardown_request(_close)


def writes_on_get(view: F) -> F:
    """Mark a GET route that writes (a sign-in callback): its transaction writes, like a POST's."""
    setattr(view, _WRITES, True)
    return view


def route_marked(mark: str) -> bool:
    """Whether this request's view carries ``mark`` (set on the view function by a decorator)."""
    return bool(getattr(current_app.view_functions.get(request.endpoint or ""), mark, False))


def writes() -> bool:
    """Whether this request may write: decided by its method, or by its route's mark."""
    return request.method not in READING_METHODS or route_marked(_WRITES)


def session() -> Session:
    if "db_session" not in g:
        factory = current_app.extensions["rectiflow_sessions"]
        g.db_session = factory() if writes() else factory(bind=current_app.extensions["rectiflow_reading_engine"])
    db_session: Session = g.db_session
    return db_session


def pause() -> None:
    """End the request's transaction before slow work that needs no database (parsing an upload).

    What the request did so far is committed: reads, and its token's last use. Until then a writing
    request holds SQLite's write lock, and on PostgreSQL a connection and any row it locked. The
    session's next statement begins a new transaction.
    """
    db_session: Session | None = g.get("db_session")
    if db_session is not None:
        db_session.commit()


def aside(work: Callable[[Session], bool]) -> bool:
    """Bookkeeping a reading request may skip (see ``engine.store.db.if_free``): done now or not at all."""
    return if_free(current_app.extensions["rectiflow_sessions"], work)


@contextmanager
def apart() -> Iterator[Session]:
    """A transaction of its own, committed even though the request fails (a denial, a failed login).

    The request's own work is rolled back first: it is refused anyway, and on SQLite its transaction
    holds the write lock this one needs. The request's session stays open, so what it loaded (the
    logged-in user a refusal page shows) still loads afterwards instead of being detached.
    """
    if "db_session" in g:
        g.db_session.rollback()
    with transaction(current_app.extensions["rectiflow_sessions"]) as own:
        yield own


def files() -> FileStore:
    """Where evidence files' bytes live (``RECTIFLOW_STORAGE_URL``), built once with the app."""
    store: FileStore = current_app.extensions["rectiflow_files"]
    return store


def settings() -> Settings:
    configured: Settings = current_app.config["RECTIFLOW_SETTINGS"]
    return configured


def dispose(app: Flask) -> None:
    """Close the app's connection pool (tests and clean shutdowns)."""
    engine: Engine = app.extensions["rectiflow_engine"]
    engine.dispose()


def today() -> dt.date:
    """The office's date now, for deadline flags and filters."""
    return clock.today(settings().timezone)


def _finish(response: Response) -> Response:
    """Commit what a successful request did; a refused request changes nothing."""
    db_session: Session | None = g.pop("db_session", None)
    if db_session is not None:
        try:
            if response.status_code < 400:
                db_session.commit()
            else:
                db_session.rollback()
        finally:
            db_session.close()
    return response


def _close(_exc: BaseException | None) -> None:
    db_session: Session | None = g.pop("db_session", None)
    if db_session is not None:
        db_session.rollback()
        db_session.close()
