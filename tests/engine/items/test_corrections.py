"""A correction and a withdrawal keep the history's chain and seal verifying; undoing either in the
database shows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit
from engine.identity import identity
from engine.items import corrections, workflow
from engine.store.db import transaction
from engine.store.errors import InvalidInput
from tests.conftest import People
from tests.engine.audit.test_audit import build, tampering


def verified(sessions: sessionmaker[Session]) -> list[tuple[int, int | None]]:
    with transaction(sessions) as session:
        return [(p["item_id"], p["seq"]) for p in audit.verify(session).problems]


def test_the_history_verifies_after_a_correction_and_a_withdrawal_and_shows_their_removal(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    first, second = build(sessions)
    with transaction(sessions) as session:
        admin = identity.user_by_username(session, "admin")
        fix = corrections.Correction(reason="时限写错", title="更正后的标题", deadline=dt.date(2027, 1, 15))
        corrections.correct(session, admin, first, fix, "UTC")
        corrections.withdraw(session, admin, first, "重复登记")
        corrections.withdraw(session, admin, second, "登记错误")
    assert verified(sessions) == []

    with tampering(db_engine) as conn:
        conn.execute(text("DELETE FROM history_event WHERE item_id = :i AND action = 'withdrawn'"), {"i": second})
    assert {item for item, _ in verified(sessions)} == {second}


def test_a_withdrawn_item_refuses_further_changes(sessions: sessionmaker[Session], people: People) -> None:
    (item_id,) = build(sessions, 1)
    with transaction(sessions) as session:
        admin = identity.user_by_username(session, "admin")
        corrections.withdraw(session, admin, item_id, "重复登记")
    with transaction(sessions) as session, pytest.raises(InvalidInput) as refused:
        admin = identity.user_by_username(session, "admin")
        corrections.correct(session, admin, item_id, corrections.Correction(reason="r", title="新"), "UTC")
    assert refused.value.errors[0]["field"] == "item"
    with transaction(sessions) as session:
        item = workflow.lock_item(session, item_id)
        assert (item.status, item.title, item.closed_at is not None) == ("withdrawn", "审计 0", True)
