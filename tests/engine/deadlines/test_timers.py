"""The deadline is watched over an item's whole open life: event sub-processes of the diagram warn 3 days
ahead and escalate when overdue, once per deadline, at whatever stage the item is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines import extensions
from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Item, Job
from tests.conftest import People

TZ = "Asia/Shanghai"
# The deadline 2026-12-10 ends at 2026-12-11 00:00 in Beijing; the warning comes 3 days before.
WARNING_AT = dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC)
OVERDUE_AT = dt.datetime(2026, 12, 10, 16, tzinfo=dt.UTC)
WARNED = ("deadline_warning", "warning")
ESCALATED = ("deadline_overdue", "overdue")


def raise_item(sessions: sessionmaker[Session], **fields: object) -> int:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title="到期提醒", department="office", **fields)  # type: ignore[arg-type]
        return workflow.create_item(session, reporter, new, TZ).id


def complete(sessions: sessionmaker[Session], item_id: int, username: str, data: dict[str, Any]) -> str:
    """Complete the item's one open task as ``username``; the name of the task completed."""
    with transaction(sessions) as session:
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)
        return task.name


def to_review(sessions: sessionmaker[Session], item_id: int) -> None:
    complete(sessions, item_id, "manager", {"measures": "m"})
    complete(sessions, item_id, "manager", {"owner": "owner"})
    complete(sessions, item_id, "owner", {"result": "已整改"})


def open_task(sessions: sessionmaker[Session], item_id: int) -> str:
    with transaction(sessions) as session:
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        return task.name


def job_due(sessions: sessionmaker[Session], item_id: int) -> dt.datetime | None:
    with transaction(sessions) as session:
        job = session.scalar(select(Job).where(Job.item_id == item_id))
        return job.due_at if job else None


def escalations(sessions: sessionmaker[Session], item_id: int) -> list[tuple[str | None, str]]:
    with transaction(sessions) as session:
        events = session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.item_id == item_id, HistoryEvent.action == "escalation")
            .order_by(HistoryEvent.id)
        )
        return [(e.task, e.data["kind"]) for e in events]


def fire(sessions: sessionmaker[Session], item_id: int) -> list[str]:
    with transaction(sessions) as session:
        return workflow.fire_timers(session, item_id)


def test_warning_then_overdue_fire_once_each_while_the_item_waits_at_its_first_step(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 12, 10))
        assert job_due(sessions, item_id) == WARNING_AT  # watched from the moment it is raised
        assert fire(sessions, item_id) == []

    with time_machine.travel("2026-12-08T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == ["deadline_warning"]
        assert fire(sessions, item_id) == []  # fired once, never again
        assert escalations(sessions, item_id) == [WARNED]
        assert job_due(sessions, item_id) == OVERDUE_AT

    with time_machine.travel("2026-12-10T16:00:01+00:00", tick=False):
        assert fire(sessions, item_id) == ["deadline_overdue"]
        assert escalations(sessions, item_id) == [WARNED, ESCALATED]
        assert job_due(sessions, item_id) is None
        assert open_task(sessions, item_id) == "define_measures"  # non-interrupting: the unit carries on


def test_a_deadline_passing_during_review_escalates_there_and_reject_rounds_do_not_repeat_it(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 12, 10))
        to_review(sessions, item_id)
        assert job_due(sessions, item_id) == WARNING_AT

    with time_machine.travel("2026-12-11T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == ["deadline_warning", "deadline_overdue"]
        assert open_task(sessions, item_id) == "review"
        for _ in range(3):  # rejected and redone: the deadline stays escalated once
            complete(sessions, item_id, "approver", {"decision": "reject", "comment": "再改"})
            complete(sessions, item_id, "owner", {"result": "再次整改"})
        assert escalations(sessions, item_id) == [WARNED, ESCALATED]
        assert job_due(sessions, item_id) is None


def test_a_granted_extension_watches_the_new_deadline_once_more(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel("2026-12-08T01:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 12, 10))
        complete(sessions, item_id, "manager", {"measures": "m"})
        complete(sessions, item_id, "manager", {"owner": "owner"})
        assert escalations(sessions, item_id) == [WARNED]  # within 3 days of the deadline on arrival
        with transaction(sessions) as session:
            owner = identity.user_by_username(session, "owner")
            found = extensions.request(
                session, owner, session.get_one(Item, item_id), dt.date(2026, 12, 31), "材料未到", dt.date(2026, 12, 8)
            )
            approver = identity.user_by_username(session, "approver")
            extensions.decide(session, approver, found.id, extensions.Decision(grant=True), TZ)
        assert job_due(sessions, item_id) == dt.datetime(2026, 12, 28, 16, tzinfo=dt.UTC)
        assert fire(sessions, item_id) == []

    with time_machine.travel("2026-12-11T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == []  # the old deadline no longer counts

    with time_machine.travel("2027-01-01T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == ["deadline_warning", "deadline_overdue"]
        assert escalations(sessions, item_id) == [WARNED, WARNED, ESCALATED]
        assert open_task(sessions, item_id) == "rectify"


def test_a_deadline_already_past_escalates_as_soon_as_the_item_is_raised(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 11, 20))
        assert escalations(sessions, item_id) == [WARNED, ESCALATED]
        assert job_due(sessions, item_id) is None


def test_a_closed_item_stops_being_watched(sessions: sessionmaker[Session], people: People) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        item_id = raise_item(sessions, deadline=dt.date(2026, 12, 10))
        to_review(sessions, item_id)
        complete(sessions, item_id, "approver", {"decision": "approve", "comment": "通过"})
        with transaction(sessions) as session:
            item = session.get_one(Item, item_id)
            assert (item.status, item.closed_at is not None) == ("closed", True)
        assert job_due(sessions, item_id) is None

    with time_machine.travel("2026-12-20T01:00:00+00:00", tick=False):
        assert fire(sessions, item_id) == []
        assert escalations(sessions, item_id) == []


def test_ongoing_items_have_no_due_timer(sessions: sessionmaker[Session], people: People) -> None:
    item_id = raise_item(sessions, ongoing=True)
    to_review(sessions, item_id)
    assert job_due(sessions, item_id) is None
    assert escalations(sessions, item_id) == []
