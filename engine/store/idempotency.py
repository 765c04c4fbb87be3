"""Idempotency keys: a request repeated with its key (a form posted twice, a client's retry) creates nothing new.

The caller keys a request that creates something: ``earlier`` gives the outcome a previous request
with that key had, else the caller does its work and ``record`` keeps the outcome with the key in the
same transaction, so a crash can leave neither a key without its work nor work without its key.

Twins running at once (a double click) both find nothing and both work; the unique (user, key)
constraint lets only one record. PostgreSQL: the second's insert waits for the first to commit, then
fails; SQLite takes the write lock at the start of each writing transaction, so the second usually
finds the first's outcome at once, and meets the constraint only if it ended its transaction in
between (``web.db.pause``). Either way ``record`` raises ``Raced`` with the first outcome, and the
caller rolls its own work back and answers with that outcome.

Keys are the caller's own (one user's key never meets another's) and live for a retention period
(``RECTIFLOW_IDEMPOTENCY_HOURS``): older ones are forgotten, and pruned as new ones are recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput, RectiflowError
from engine.store.models import IdempotencyKey

KEY_MAX = 255
# Expired keys removed per recording: enough to keep up with any rate of new ones, never a long delete.
PRUNE_BATCH = 100


@dataclass(frozen=True)
class Asked:
    """A keyed request: who asked, with which key, and a digest of what they asked."""

    user_id: int
    key: str
    fingerprint: str


class KeyReused(InvalidInput):
    """此键已用于另一个请求 This key was already used for a different request: use a new key for a new request."""


class Raced(RectiflowError):
    """A twin request recorded this key first: undo this one's work and answer with ``outcome``."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__()
        self.outcome = outcome


def earlier(session: Session, asked: Asked, now: dt.datetime, retention: dt.timedelta) -> dict[str, Any] | None:
    """The outcome of the request made earlier with this key, None if none within the retention.

    Raises ``KeyReused`` if the key was used for a different request.
    """
    found = session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == asked.user_id,
            IdempotencyKey.key == asked.key,
            IdempotencyKey.created_at >= now - retention,
        )
    ).one_or_none()
    if found is None:
        return None
    if found.fingerprint != asked.fingerprint:
        raise KeyReused()
    return found.outcome


def record(session: Session, asked: Asked, outcome: dict[str, Any], now: dt.datetime, retention: dt.timedelta) -> None:
    """Keep ``outcome`` with the key, in the caller's transaction; ``Raced`` if a twin recorded it first."""
    cutoff = now - retention
    # The same key, expired but not yet pruned, would stand in the constraint's way.
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == asked.user_id,
            IdempotencyKey.key == asked.key,
            IdempotencyKey.created_at < cutoff,
        )
    )
    _prune(session, cutoff)
    try:
        with session.begin_nested():
            session.add(
                IdempotencyKey(
                    user_id=asked.user_id,
                    key=asked.key,
                    fingerprint=asked.fingerprint,
                    created_at=now,
                    outcome=outcome,
                )
            )
    except IntegrityError:
        first = earlier(session, asked, now, retention)
        if first is None:  # the twin's key expired in the meantime: it was no twin
            raise
        raise Raced(first) from None


def _prune(session: Session, cutoff: dt.datetime) -> None:
    """Remove a batch of expired keys; on PostgreSQL only those no other transaction holds (no waiting)."""
    expired = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.created_at < cutoff)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(expired)))
