"""The public form: its switch (off until an administrator turns it on) and its per-address limit.

The limit counts the address's recent submissions in the submission table itself, so every web
process on one database counts the same; the address is kept only as a keyed hash (HMAC under the
history's key, which every process of one database shares), never as given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.audit import admin_log, keys
from engine.identity import permissions
from engine.store.errors import NotFound, TooManySubmissions
from engine.store.models import OfficeSetting, Submission, User, utcnow

SWITCH = "intake.public"


def enabled(session: Session) -> bool:
    row = session.get(OfficeSetting, SWITCH)
    return bool(row is not None and row.value)


def require_enabled(session: Session) -> None:
    """While the form is off it does not exist, to the public."""
    if not enabled(session):
        raise NotFound("公众反映渠道未开放 The public form is not open")


def set_enabled(session: Session, actor: User, on: bool, remote_addr: str | None = None) -> bool:
    permissions.require_admin(actor)
    row = session.get(OfficeSetting, SWITCH)
    if row is None:
        row = OfficeSetting(key=SWITCH, value=on)
        session.add(row)
    row.value, row.changed_at, row.changed_by = on, utcnow(), actor.username
    admin_log.record(session, actor.username, "intake.public", "on" if on else "off", remote_addr)
    return on


def address_hash(session: Session, address: str) -> str:
    return hmac.new(keys.of(session), b"intake-address\x00" + address.encode(), hashlib.sha256).hexdigest()


def check_rate(session: Session, hashed: str, limit: int, window: dt.timedelta) -> None:
    """Refuse the ``limit + 1``-th submission from one address within ``window``, saying when to try again.

    On PostgreSQL the address's count is taken under a transaction lock on its hash, so that two
    processes cannot both count below the limit and both insert; SQLite's writers queue anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(hashed[:15], 16)})
    since = utcnow() - window
    recent = select(func.count(), func.min(Submission.raised_at)).where(
        Submission.address_hash == hashed, Submission.raised_at > since
    )
    count, oldest = session.execute(recent).one()
    if count >= limit:
        retry = (oldest + window - utcnow()).total_seconds() if oldest is not None else window.total_seconds()
        raise TooManySubmissions(max(1, math.ceil(retry)))
