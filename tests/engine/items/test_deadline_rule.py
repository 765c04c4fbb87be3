"""The default lifecycle asks its decision table ``deadline_rule`` (category × severity) for an item's default
deadline and whether a second approver signs off; the office edits the table and new items follow it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import decisions
from engine.identity.identity import user_by_username
from engine.items import items, workflow
from engine.store.config import REPO_ROOT
from engine.store.errors import Forbidden
from engine.store.models import HistoryEvent, Item, Job
from tests.conftest import People

TZ = "Asia/Shanghai"
TODAY = dt.date(2026, 11, 25)
RULE = (REPO_ROOT / "processes" / "deadline_rule.dmn").read_bytes()


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False), sessions() as session:
        yield session
        session.rollback()


def raise_item(session: Session, **fields: Any) -> Item:
    new = workflow.NewItem(title="规则定时限", department="office", **fields)
    return workflow.create_item(session, user_by_username(session, "reporter"), new, TZ)


def do(session: Session, item: Item, username: str, data: dict[str, Any]) -> str:
    (task,) = items.live_tasks(session, item)
    workflow.complete_task(session, user_by_username(session, username), task.id, data)
    return task.name


def to_review(session: Session, item: Item) -> None:
    assert do(session, item, "manager", {"measures": "m"}) == "define_measures"
    assert do(session, item, "manager", {"owner": "owner"}) == "assign_owner"
    assert do(session, item, "owner", {"result": "已整改"}) == "rectify"


def decided(session: Session, item: Item) -> list[dict[str, Any]]:
    query = select(HistoryEvent).where(HistoryEvent.item_id == item.id, HistoryEvent.action == "decision")
    return [event.data for event in session.scalars(query.order_by(HistoryEvent.seq))]


def open_steps(session: Session, item: Item) -> list[str]:
    return [task.name for task in items.live_tasks(session, item)]


@pytest.mark.parametrize(
    ("category", "severity", "days", "second"),
    [
        ("安全生产", "严重", 7, True),
        ("环境卫生", "严重", 15, True),
        ("安全生产", "一般", 15, False),
        (None, "较重", 30, False),
        (None, "一般", 60, False),
    ],
)
def test_the_table_sets_the_deadline_of_an_item_raised_without_one(
    session: Session, category: str | None, severity: str, days: int, second: bool
) -> None:
    item = raise_item(session, category=category, severity=severity)
    assert item.deadline == TODAY + dt.timedelta(days=days)
    (event,) = decided(session, item)
    assert (event["decision"], event["version"], event["hit_policy"]) == ("deadline_rule", 1, "FIRST")
    assert event["outputs"] == {"deadline_days": days, "second_approver": second}
    created = session.scalars(select(HistoryEvent).where(HistoryEvent.item_id == item.id)).first()
    assert created is not None and created.data["deadline"] == item.deadline.isoformat()
    # The deadline watches arm on it at once: the warning three days before its end in the office.
    job = session.scalars(select(Job).where(Job.item_id == item.id)).one()
    assert job.due_at == dt.datetime.combine(item.deadline, dt.time(16), dt.UTC) - dt.timedelta(days=3)


def test_a_severe_item_needs_a_second_approver_who_is_not_the_reviewer(session: Session) -> None:
    item = raise_item(session, severity="严重", deadline=dt.date(2026, 12, 31))
    assert item.deadline == dt.date(2026, 12, 31)  # the reporter's own deadline stands
    to_review(session, item)
    assert do(session, item, "approver", {"decision": "approve", "comment": "同意"}) == "review"
    assert (open_steps(session, item), item.status) == (["head_review"], "head_review")
    (task,) = items.live_tasks(session, item)
    with pytest.raises(Forbidden):  # the reviewer cannot sign off twice
        workflow.complete_task(session, user_by_username(session, "approver"), task.id, {"decision": "approve"})
    assert do(session, item, "approver2", {"decision": "reject", "comment": "佐证不足"}) == "head_review"
    assert open_steps(session, item) == ["rectify"]  # sent back to the owner
    assert do(session, item, "owner", {"result": "补充佐证"}) == "rectify"
    do(session, item, "approver", {"decision": "approve"})
    do(session, item, "approver2", {"decision": "approve"})
    assert (item.status, item.closed_at is not None) == ("closed", True)


def test_a_normal_item_closes_on_the_first_approval(session: Session) -> None:
    item = raise_item(session)  # severity 一般 by default
    to_review(session, item)
    do(session, item, "approver", {"decision": "approve"})
    assert (item.status, open_steps(session, item)) == ("closed", [])


def test_an_edited_table_changes_new_items_only(session: Session) -> None:
    before = raise_item(session, severity="严重")
    edited = RULE.replace(
        b'<outputEntry id="severe_days"><text>15</text>', b'<outputEntry id="severe_days"><text>10</text>'
    )
    assert edited != RULE
    ((deployed, created),) = decisions.deploy(session, edited, "designer")
    assert (deployed.key, deployed.version, created) == ("deadline_rule", 2, True)
    after = raise_item(session, category="环境卫生", severity="严重")
    assert (before.deadline, after.deadline) == (TODAY + dt.timedelta(days=15), TODAY + dt.timedelta(days=10))
    assert [event["version"] for event in decided(session, after)] == [2]
    assert [event["version"] for event in decided(session, before)] == [1]


def test_ongoing_items_take_no_deadline_from_the_table(session: Session) -> None:
    item = raise_item(session, ongoing=True, severity="严重")
    assert item.deadline is None
    assert session.scalars(select(Job).where(Job.item_id == item.id)).one_or_none() is None
