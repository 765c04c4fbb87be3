"""Migrating the items of a calling process: an item inside a called process moves, the called process stays
on the version it was called in; the dry run says so, and the item finishes afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, from_folder
from engine.identity.identity import user_by_username
from engine.items import items, migrations, workflow
from engine.store.models import Item, Job, Task
from tests.conftest import PROCESSES, People

EXAMPLES = PROCESSES / "examples"
CALLED = from_folder(EXAMPLES / "called_review.bpmn", EXAMPLES / "forms")
CALLER = from_folder(EXAMPLES / "call_activity.bpmn", EXAMPLES / "forms")


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def retitled(bundle: Bundle, old: str, new: str) -> Bundle:
    assert old.encode() in bundle.diagram
    return Bundle(bundle.diagram.replace(old.encode(), new.encode()), bundle.forms)


def do(session: Session, item_id: int, username: str, data: dict[str, Any]) -> str:
    """Complete the item's one task; the name of the task live after it ("" when none)."""
    (task,) = items.live_tasks(session, session.get_one(Item, item_id))
    item = workflow.complete_task(session, user_by_username(session, username), task.id, data)
    live = items.live_tasks(session, item)
    return live[0].name if live else ""


def start(session: Session) -> int:
    new = workflow.NewItem(title="迁移调用", department="office", process="call_activity")
    return workflow.create_item(session, user_by_username(session, "reporter"), new, "UTC").id


def test_an_item_inside_a_called_process_moves_and_the_called_version_stays(session: Session) -> None:
    deploy.deploy(session, CALLED, actor=None)
    deploy.deploy(session, CALLER, actor=None)
    inside, before = start(session), start(session)
    assert do(session, inside, "manager", {}) == "revise"
    deploy.deploy(session, retitled(CALLED, 'name="复核 Check"', 'name="复核二 Check v2"'), actor=None)
    deploy.deploy(session, retitled(CALLER, 'name="准备 Prepare"', 'name="准备二 Prepare v2"'), actor=None)

    designer, approver = user_by_username(session, "designer"), user_by_username(session, "approver")
    ask = migrations.Ask(to_version=2, from_version=1)
    report = {row["item"]: row for row in migrations.dry_run(session, designer, "call_activity", ask)}
    assert report[inside]["outcome"] == "moves"
    assert report[inside]["moved"] == [{"from": "review", "to": "review"}]
    assert report[inside]["called"] == [{"key": "called_review", "version": 1}]
    assert (report[before]["moved"], report[before]["called"]) == ([{"from": "prepare", "to": "prepare"}], [])

    asked = migrations.request(session, designer, "call_activity", ask)
    migrations.confirm(session, approver, "call_activity", asked.id)
    for job in session.scalars(select(Job).where(Job.kind == migrations.MIGRATION_JOB, Job.due_at.is_not(None))):
        payload: dict[str, Any] | None = job.payload
        while payload is not None:
            payload = migrations.run_batch(session, payload)
    assert [row["outcome"] for row in asked.report] == ["moved", "moved"]

    # Still inside called_review v1 (its check keeps v1's title), now on the caller's version 2.
    assert do(session, inside, "manager", {}) == "check"
    check = session.scalars(select(Task).where(Task.item_id == inside, Task.name == "check")).one()
    assert check.title == "复核 Check"
    assert do(session, inside, "approver", {"decision": "approve"}) == ""
    assert session.get_one(Item, inside).status == "closed"
    # The other item reaches the call after the move: the latest called version.
    assert do(session, before, "manager", {}) == "revise"
    assert do(session, before, "manager", {}) == "check"
    check = session.scalars(select(Task).where(Task.item_id == before, Task.name == "check")).one()
    assert check.title == "复核二 Check v2"
