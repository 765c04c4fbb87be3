"""Workflows kept live between requests (engine.bpmn.live): never a state other than the stored one.

A process keeps the workflow it stored last and takes it again instead of deserializing the state.
What a person must never notice: a completion that was rolled back, or a change another process made,
coming back through a kept object.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import live
from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import Item
from tests.conftest import People


@pytest.fixture(autouse=True)
def own_pool() -> Iterator[live.LiveWorkflows]:
    """This test's pool, as a fresh process has it."""
    kept, live.pool = live.pool, live.LiveWorkflows()
    yield live.pool
    live.pool = kept


def _raise(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item = workflow.create_item(session, reporter, workflow.NewItem(title="窗口排队", department="office"), "UTC")
        return item.id


def _complete(session: Session, item_id: int, username: str, data: dict[str, object]) -> Item:
    item = session.get_one(Item, item_id)
    (task,) = items.live_tasks(session, item)
    return workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def _step(sessions: sessionmaker[Session], item_id: int) -> str:
    with transaction(sessions) as session:
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        return task.name


def test_a_rolled_back_completion_leaves_the_item_as_stored(
    sessions: sessionmaker[Session], people: People, own_pool: live.LiveWorkflows
) -> None:
    item_id = _raise(sessions)
    assert len(own_pool) == 1  # the new item's workflow is kept once its creation commits
    session = sessions()
    try:
        _complete(session, item_id, "manager", {"measures": "增设取号机"})
        session.flush()
    finally:
        session.rollback()
        session.close()
    assert len(own_pool) == 0  # taken by the rolled-back request, and not put back
    assert _step(sessions, item_id) == "define_measures"
    with transaction(sessions) as session:
        item = _complete(session, item_id, "manager", {"measures": "增设取号机"})
        assert item.status == "measures"
    assert _step(sessions, item_id) == "assign_owner"


def test_a_change_made_by_another_process_is_never_shadowed_by_a_kept_workflow(
    sessions: sessionmaker[Session], people: People, own_pool: live.LiveWorkflows
) -> None:
    item_id = _raise(sessions)
    with transaction(sessions) as session:
        _complete(session, item_id, "manager", {"measures": "增设取号机"})
    assert len(own_pool) == 1
    # Another process (its own pool) names the owner meanwhile.
    live.pool = live.LiveWorkflows()
    with transaction(sessions) as session:
        _complete(session, item_id, "manager", {"owner": "owner"})
    live.pool = own_pool
    # This process still keeps the workflow it stored before: it must not be taken for the item now.
    assert len(own_pool) == 1
    with transaction(sessions) as session:
        item = _complete(session, item_id, "owner", {"result": "已增设两台"})
        assert item.status == "review"
        assert items.data_of(session, item)["owner"] == "owner"


def test_a_process_keeps_at_most_its_capacity(sessions: sessionmaker[Session], people: People) -> None:
    live.pool = live.LiveWorkflows(capacity=2)
    ids = [_raise(sessions) for _ in range(4)]
    assert len(live.pool) == 2
    for item_id in ids:  # kept or not, each item goes on from its stored state
        with transaction(sessions) as session:
            assert _complete(session, item_id, "manager", {"measures": "整改"}).status == "measures"
