"""One database session per request; the request's outcome decides commit or rollback, here only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.store import clock
from engine.store.config import Settings
from engine.store.db import make_session_factory, transaction


def init_app(app: Flask, engine: Engine, audit_key: bytes) -> None:
    app.extensions["rectiflow_engine"] = engine
    app.extensions["rectiflow_sessions"] = make_session_factory(engine, audit_key)
    app.after_request(_finish)
    app.teardown_request(_close)


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["rectiflow_sessions"]()
    db_session: Session = g.db_session
    return db_session


@contextmanager
def apart() -> Iterator[Session]:
    """A transaction of its own, committed even though the request fails (a denial, a failed login).

    The request's own work is rolled back first: it is refused anyway, and on SQLite its transaction
    holds the write lock this one needs.
    """
    _close(None)
    with transaction(current_app.extensions["rectiflow_sessions"]) as own:
        yield own


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
