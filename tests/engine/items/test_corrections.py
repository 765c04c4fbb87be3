"""A correction and a withdrawal keep the history's chain and seal verifying; undoing either in the
database shows."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit, history
from engine.identity import identity
from engine.items import corrections, items, workflow
from engine.store.db import transaction
from engine.store.errors import InvalidInput
from engine.store.models import Job
from tests.conftest import People
from tests.engine.audit.test_audit import build, tampering


def verified(sessions: sessionmaker[Session]) -> list[tuple[int, int | None]]:
    with transaction(sessions) as session:
        return [(p["item_id"], p["seq"]) for p in audit.verify(session).problems]


def armed(sessions: sessionmaker[Session], item_id: int) -> bool:
    """Whether one of the item's timers is due some day (the deadline's warning)."""
    with transaction(sessions) as session:
        due = session.scalars(select(Job.due_at).where(Job.item_id == item_id, Job.kind == "timer"))
        return any(at is not None for at in due)


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


def test_a_correction_clears_an_optional_field_keeps_one_left_out_and_refuses_to_clear_a_required_one(
    sessions: sessionmaker[Session], people: People
) -> None:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(
            title="来源写错", department="office", description="详情", source="自查", category="窗口服务",
            deadline=dt.date(2026, 12, 31),
        )  # fmt: skip
        item = workflow.create_item(session, reporter, new, "UTC")
        for data in ({"measures": "m"}, {"owner": "owner"}):  # the owner's rectification has the deadline's timer
            (task,) = items.live_tasks(session, item)
            workflow.complete_task(session, identity.user_by_username(session, "manager"), task.id, data)
        item_id = item.id
    assert armed(sessions, item_id)
    for required in ("title", "department"):
        for empty in (None, ""):
            with transaction(sessions) as session, pytest.raises(InvalidInput) as refused:
                admin = identity.user_by_username(session, "admin")
                fix = corrections.Correction(reason="清空", **{required: empty})
                corrections.correct(session, admin, item_id, fix, "UTC")
            assert [error["field"] for error in refused.value.errors] == [required]
            assert "不能清空" in refused.value.errors[0]["message"]

    with transaction(sessions) as session:
        admin = identity.user_by_username(session, "admin")
        fix = corrections.Correction(reason="来源不详", source=None, category="", description=None, deadline=None)
        corrections.correct(session, admin, item_id, fix, "UTC")
    with transaction(sessions) as session:
        item = workflow.lock_item(session, item_id)
        assert (item.title, item.source, item.category, item.description, item.deadline) == (
            "来源写错", None, None, "", None,
        )  # fmt: skip
        (event,) = [event for event in history.events(session, item_id) if event.action == "corrected"]
        assert event.data == {
            "reason": "来源不详",
            "changes": {
                "description": {"from": "详情", "to": ""},
                "source": {"from": "自查", "to": None},
                "category": {"from": "窗口服务", "to": None},
                "deadline": {"from": "2026-12-31", "to": None},
            },
        }
    assert not armed(sessions, item_id)  # no deadline: its warning never fires


def test_a_correction_changes_the_severity_but_not_what_the_workflow_started_with(
    sessions: sessionmaker[Session], people: People
) -> None:
    with transaction(sessions) as session, pytest.raises(InvalidInput) as unknown:
        reporter = identity.user_by_username(session, "reporter")
        workflow.create_item(session, reporter, workflow.NewItem(title="t", department="office", severity="急"), "UTC")
    assert [error["field"] for error in unknown.value.errors] == ["severity"]
    assert "一般、较重、严重" in unknown.value.detail
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item_id = workflow.create_item(
            session, reporter, workflow.NewItem(title="门禁失灵", department="office"), "UTC"
        ).id
    for wrong in ("急", None, ""):
        with transaction(sessions) as session, pytest.raises(InvalidInput) as refused:
            fix = corrections.Correction(reason="定级", severity=wrong)  # type: ignore[arg-type]
            corrections.correct(session, identity.user_by_username(session, "admin"), item_id, fix, "UTC")
        assert [error["field"] for error in refused.value.errors] == ["severity"]

    with transaction(sessions) as session:
        fix = corrections.Correction(reason="涉及安全", severity="严重")
        corrections.correct(session, identity.user_by_username(session, "admin"), item_id, fix, "UTC")
    with transaction(sessions) as session:
        item = workflow.lock_item(session, item_id)
        assert (item.severity, items.data_of(session, item)["severity"]) == ("严重", "一般")
        (event,) = [event for event in history.events(session, item_id) if event.action == "corrected"]
        assert event.data == {"reason": "涉及安全", "changes": {"severity": {"from": "一般", "to": "严重"}}}
