"""Idempotency keys in the engine: one outcome per (user, key), kept with the work, racing twins undone."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store import idempotency
from engine.store.db import transaction
from engine.store.idempotency import Asked
from engine.store.models import Department, IdempotencyKey, utcnow

DAY = dt.timedelta(hours=24)


@pytest.fixture
def user_ids(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with transaction(sessions) as session:
        return identity.add_user(session, "alice", None, []).id, identity.add_user(session, "bob", None, []).id


def keys(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0


def departments(sessions: sessionmaker[Session]) -> list[str]:
    with transaction(sessions) as session:
        return list(session.scalars(select(Department.code).order_by(Department.code)))


def create_once(session: Session, asked: Asked, code: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """What a keyed request does: the earlier outcome, else the work and its outcome recorded with it."""
    now = now or utcnow()
    first = idempotency.earlier(session, asked, now, DAY)
    if first is not None:
        return first
    identity.add_department(session, code, code)
    outcome = {"created": code}
    idempotency.record(session, asked, outcome, now, DAY)
    return outcome


def test_a_repeat_gets_the_first_outcome_and_does_nothing(
    sessions: sessionmaker[Session], user_ids: tuple[int, int]
) -> None:
    asked = Asked(user_ids[0], "k", "fp")
    with transaction(sessions) as session:
        assert create_once(session, asked, "first") == {"created": "first"}
    with transaction(sessions) as session:
        assert create_once(session, asked, "second") == {"created": "first"}
    assert departments(sessions) == ["first"]


def test_a_key_used_for_another_request_is_refused(sessions: sessionmaker[Session], user_ids: tuple[int, int]) -> None:
    with transaction(sessions) as session:
        create_once(session, Asked(user_ids[0], "k", "fp"), "first")
    with pytest.raises(idempotency.KeyReused), transaction(sessions) as session:
        create_once(session, Asked(user_ids[0], "k", "another"), "second")
    assert departments(sessions) == ["first"]


def test_another_users_key_does_not_collide(sessions: sessionmaker[Session], user_ids: tuple[int, int]) -> None:
    alice, bob = user_ids
    with transaction(sessions) as session:
        create_once(session, Asked(alice, "k", "fp"), "alices")
    with transaction(sessions) as session:
        assert create_once(session, Asked(bob, "k", "fp"), "bobs") == {"created": "bobs"}
    assert departments(sessions) == ["alices", "bobs"]


def test_work_rolled_back_takes_its_key_with_it(sessions: sessionmaker[Session], user_ids: tuple[int, int]) -> None:
    """The key is recorded in the work's transaction: a failure after it leaves neither."""
    asked = Asked(user_ids[0], "k", "fp")
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        create_once(session, asked, "lost")
        raise RuntimeError("the request failed after the work")
    assert keys(sessions) == 0
    with transaction(sessions) as session:
        assert create_once(session, asked, "kept") == {"created": "kept"}
    assert departments(sessions) == ["kept"]


def test_an_expired_key_counts_as_new_and_old_keys_are_pruned(
    sessions: sessionmaker[Session], user_ids: tuple[int, int]
) -> None:
    alice, bob = user_ids
    long_ago = utcnow() - DAY - dt.timedelta(minutes=1)
    with transaction(sessions) as session:
        create_once(session, Asked(alice, "k", "fp"), "old", now=long_ago)
        create_once(session, Asked(bob, "other", "fp"), "bobs-old", now=long_ago)
    with transaction(sessions) as session:
        assert create_once(session, Asked(alice, "k", "fp"), "new") == {"created": "new"}
    assert departments(sessions) == ["bobs-old", "new", "old"]
    with transaction(sessions) as session:
        left = session.execute(select(IdempotencyKey.user_id, IdempotencyKey.key)).all()
    assert left == [(alice, "k")]  # Bob's expired key went with the recording of Alice's new one


def test_a_twin_that_recorded_first_wins_and_the_other_learns_its_outcome(
    sessions: sessionmaker[Session], user_ids: tuple[int, int]
) -> None:
    """The twin looked before the first recorded (its transaction ended in between, as an upload's does)."""
    asked = Asked(user_ids[0], "k", "fp")
    with transaction(sessions) as twin:
        assert idempotency.earlier(twin, asked, utcnow(), DAY) is None
    with transaction(sessions) as session:
        create_once(session, asked, "first")
    with transaction(sessions) as twin:
        identity.add_department(twin, "twin", "twin")
        with pytest.raises(idempotency.Raced) as raced:
            idempotency.record(twin, asked, {"created": "twin"}, utcnow(), DAY)
        twin.rollback()  # what the web layer does: the twin's work goes
    assert raced.value.outcome == {"created": "first"}
    assert departments(sessions) == ["first"]


# PostgreSQL only: SQLite lets one writing transaction in at a time, so twins never both get past the
# look-up there (the previous test covers its only way in, a transaction ended in between).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_twins_at_once_do_the_work_once(sessions: sessionmaker[Session], user_ids: tuple[int, int]) -> None:
    """Two threads with one key, both past the look-up before either records: one department, one outcome."""
    asked = Asked(user_ids[0], "k", "fp")
    both_looked = threading.Barrier(2)

    def twin(code: str) -> dict[str, Any]:
        session = sessions()
        try:
            assert idempotency.earlier(session, asked, utcnow(), DAY) is None
            both_looked.wait(timeout=30)
            identity.add_department(session, code, code)
            try:
                idempotency.record(session, asked, {"created": code}, utcnow(), DAY)
            except idempotency.Raced as raced:
                session.rollback()
                return raced.outcome
            session.commit()
            return {"created": code}
        finally:
            session.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(twin, ["one", "two"]))

    assert outcomes[0] == outcomes[1]
    assert departments(sessions) == [outcomes[0]["created"]]
    assert keys(sessions) == 1
