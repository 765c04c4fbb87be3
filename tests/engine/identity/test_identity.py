"""Passwords and tokens in the engine, against real databases."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity, passwords
from engine.store.db import transaction
from engine.store.errors import InvalidInput, WrongCredentials
from engine.store.models import ApiToken, User

PASSWORD = "correct horse battery"
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def li(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        identity.add_user(session, "li", None, ["member"], password=PASSWORD)
        identity.add_user(session, "tokens_only", None, ["member"])
    return "li"


def stored_hash(sessions: sessionmaker[Session], username: str) -> str | None:
    with sessions() as session:
        return session.scalar(select(User.password_hash).where(User.username == username))


def test_only_an_argon2_hash_is_stored(sessions: sessionmaker[Session], li: str) -> None:
    stored = stored_hash(sessions, li)
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_login_issues_an_expiring_token_that_authenticates(sessions: sessionmaker[Session], li: str) -> None:
    with time_machine.travel("2026-11-10T02:00:00+00:00", tick=False), transaction(sessions) as session:
        issued = identity.login(session, li, PASSWORD, HOUR)
        assert issued.row.name == "login"
        assert issued.row.expires_at == dt.datetime(2026, 11, 10, 3, tzinfo=dt.UTC)
    with time_machine.travel("2026-11-10T02:59:00+00:00", tick=False), transaction(sessions) as session:
        found = identity.authenticate(session, issued.secret)
        assert found is not None and found.user.username == li
    with time_machine.travel("2026-11-10T03:00:00+00:00", tick=False), transaction(sessions) as session:
        assert identity.authenticate(session, issued.secret) is None


@pytest.mark.parametrize(
    ("username", "password"),
    [("li", "wrong password!"), ("nobody", PASSWORD), ("tokens_only", PASSWORD), ("li", "")],
)
def test_every_wrong_pair_is_the_same_refusal(
    sessions: sessionmaker[Session], li: str, username: str, password: str
) -> None:
    with transaction(sessions) as session, pytest.raises(WrongCredentials) as refused:
        identity.login(session, username, password, HOUR)
    assert refused.value.detail == WrongCredentials().detail


def test_an_inactive_user_cannot_log_in_even_with_the_right_password(sessions: sessionmaker[Session], li: str) -> None:
    with transaction(sessions) as session:
        session.execute(update(User).where(User.username == li).values(active=False))
    with transaction(sessions) as session, pytest.raises(WrongCredentials):
        identity.login(session, li, PASSWORD, HOUR)


def test_a_hash_made_with_old_parameters_is_replaced_at_the_next_login(
    sessions: sessionmaker[Session], li: str
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with transaction(sessions) as session:
        session.execute(update(User).where(User.username == li).values(password_hash=weaker))
    with transaction(sessions) as session:
        identity.login(session, li, PASSWORD, HOUR)
    renewed = stored_hash(sessions, li)
    assert renewed is not None and renewed != weaker
    assert not passwords.needs_rehash(renewed)
    assert passwords.verify(renewed, PASSWORD)


@pytest.mark.parametrize("password", ["", "short", "x" * (passwords.MIN_LENGTH - 1), "y" * 1025])
def test_unacceptable_passwords_are_refused(sessions: sessionmaker[Session], li: str, password: str) -> None:
    with transaction(sessions) as session, pytest.raises(InvalidInput, match="password"):
        identity.set_password(session, identity.user_by_username(session, li), password)


def test_a_new_password_revokes_login_tokens_but_not_others(sessions: sessionmaker[Session], li: str) -> None:
    with transaction(sessions) as session:
        login = identity.login(session, li, PASSWORD, HOUR).secret
        script = identity.create_token(session, li, "nightly export")
    with transaction(sessions) as session:
        assert identity.set_password(session, identity.user_by_username(session, li), "another good password") == 1
    with transaction(sessions) as session:
        assert identity.authenticate(session, login) is None
        assert identity.authenticate(session, script) is not None
        identity.login(session, li, "another good password", HOUR)


def test_last_use_is_written_at_most_once_a_minute(sessions: sessionmaker[Session], li: str) -> None:
    with transaction(sessions) as session:
        secret = identity.create_token(session, li)

    def use_at(moment: str) -> dt.datetime | None:
        with time_machine.travel(moment, tick=False), transaction(sessions) as session:
            row = identity.authenticate(session, secret)
            assert row is not None
        with sessions() as session:
            return session.scalar(select(ApiToken.last_used_at))

    first = dt.datetime(2026, 11, 10, 2, tzinfo=dt.UTC)
    assert use_at("2026-11-10T02:00:00+00:00") == first
    assert use_at("2026-11-10T02:00:59+00:00") == first
    assert use_at("2026-11-10T02:01:00+00:00") == first + dt.timedelta(minutes=1)


def test_a_revoked_token_is_refused_and_listed_with_its_dates(sessions: sessionmaker[Session], li: str) -> None:
    with transaction(sessions) as session:
        secret = identity.create_token(session, li, "ci")
        identity.login(session, li, PASSWORD, HOUR)
    with transaction(sessions) as session:
        row = identity.authenticate(session, secret)
        assert row is not None
        identity.revoke(row)
        first = row.revoked_at
        identity.revoke(row)
        assert row.revoked_at == first
    with transaction(sessions) as session:
        assert identity.authenticate(session, secret) is None
        listed = identity.tokens_of(session, identity.user_by_username(session, li))
        assert [(t.name, t.revoked_at is not None, t.expires_at is not None) for t in listed] == [
            ("ci", True, False),
            ("login", False, True),
        ]
