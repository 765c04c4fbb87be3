"""Deadline timers live in the diagram: boundary timers on `rectify` warn 3 days ahead and escalate when overdue."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Item, Job
from tests.conftest import People

TZ = "Asia/Shanghai"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def raise_item(sessions: sessionmaker[Session], **fields: object) -> int:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title="到期提醒", department="office", **fields)  # type: ignore[arg-type]
        return workflow.create_item(session, reporter, new, TZ).id


def to_rectify(sessions: sessionmaker[Session], item_id: int) -> None:
    for username, data in [("manager", {"measures": "m"}), ("manager", {"owner": "owner"})]:
        with transaction(sessions) as session:
            (task,) = items.live_tasks(session, session.get_one(Item, item_id))
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def job_due(sessions: sessionmaker[Session], item_id: int) -> dt.datetime | None:
    with transaction(sessions) as session:
        job = session.scalar(select(Job).where(Job.item_id == item_id))
        return job.due_at if job else None


def escalations(sessions: sessionmaker[Session], item_id: int) -> list[tuple[str | None, str]]:
    with transaction(sessions) as session:
        events = session.scalars(
            select(HistoryEvent).where(HistoryEvent.item_id == item_id, HistoryEvent.action == "escalation")
        )
        return [(e.task, e.data["kind"]) for e in events]


def fire(sessions: sessionmaker[Session], item_id: int) -> list[str]:
    with transaction(sessions) as session:
        return workflow.fire_timers(session, item_id)


def test_warning_then_overdue_fire_once_each_at_their_time(sessions: sessionmaker[Session], people: People) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 12, 10))
        assert job_due(sessions, item_id) is None  # no timer before the owner's stage
        to_rectify(sessions, item_id)
        # The deadline day ends at 2026-12-11 00:00 in Beijing; the warning comes 3 days before.
        assert job_due(sessions, item_id) == utc("2026-12-07T16:00:00+00:00")
        assert fire(sessions, item_id) == []

    with time_machine.travel("2026-12-08T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == ["rectify_warning"]
        assert fire(sessions, item_id) == []  # fired once, never again
        assert escalations(sessions, item_id) == [("rectify_warning", "warning")]
        assert job_due(sessions, item_id) == utc("2026-12-10T16:00:00+00:00")

    with time_machine.travel("2026-12-10T16:00:01+00:00", tick=False):
        assert fire(sessions, item_id) == ["rectify_overdue"]
        assert escalations(sessions, item_id) == [("rectify_warning", "warning"), ("rectify_overdue", "overdue")]
        assert job_due(sessions, item_id) is None
        with transaction(sessions) as session:
            (task,) = items.live_tasks(session, session.get_one(Item, item_id))
            assert task.name == "rectify"  # non-interrupting: the owner carries on


def test_a_deadline_already_past_escalates_as_soon_as_the_owner_starts(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 11, 20))
        to_rectify(sessions, item_id)
        assert escalations(sessions, item_id) == [("rectify_warning", "warning"), ("rectify_overdue", "overdue")]
        assert job_due(sessions, item_id) is None


def test_ongoing_items_have_no_due_timer(sessions: sessionmaker[Session], people: People) -> None:
    item_id = raise_item(sessions, ongoing=True)
    to_rectify(sessions, item_id)
    assert job_due(sessions, item_id) is None
    assert escalations(sessions, item_id) == []
