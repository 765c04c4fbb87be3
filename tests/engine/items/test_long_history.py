"""An item that bounces between owner and reviewer 200 times keeps working, with all its history (a state that
kept anything per round would have grown by then: the check compares round 1 with round 200)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Instance, Item
from tests.conftest import People

ROUNDS = 200


def step(sessions: sessionmaker[Session], item_id: int, username: str, data: dict[str, str]) -> Item:
    with transaction(sessions) as session:
        actor = identity.user_by_username(session, username)
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        return workflow.complete_task(session, actor, task.id, data)


def state_size(sessions: sessionmaker[Session], item_id: int) -> int:
    with transaction(sessions) as session:
        return len(session.get_one(Instance, item_id).state)


def test_two_hundred_reject_rounds_keep_state_bounded_and_history_whole(
    sessions: sessionmaker[Session], people: People
) -> None:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item_id = workflow.create_item(
            session, reporter, workflow.NewItem(title="反复退回", department="office"), "Asia/Shanghai"
        ).id
    step(sessions, item_id, "manager", {"measures": "m"})
    step(sessions, item_id, "manager", {"owner": "owner"})

    sizes = {}
    for n in range(1, ROUNDS + 1):
        step(sessions, item_id, "owner", {"result": f"第{n}次整改"})
        item = step(sessions, item_id, "approver", {"decision": "reject", "comment": f"第{n}次退回"})
        assert item.status == "owner"
        if n in (1, ROUNDS):
            sizes[n] = state_size(sessions, item_id)

    # The live state does not grow with the history (a little slack for longer numbers in the data).
    assert sizes[ROUNDS] <= sizes[1] * 1.05
    step(sessions, item_id, "owner", {"result": "终于整改到位"})
    closed = step(sessions, item_id, "approver", {"decision": "approve"})
    assert closed.status == "closed"

    with transaction(sessions) as session:
        count = session.scalar(select(func.count()).where(HistoryEvent.item_id == item_id))
        rejection = session.scalar(
            select(HistoryEvent).where(HistoryEvent.item_id == item_id, HistoryEvent.seq == 4 + 2 * 100)
        )
    # Created, the deadline decision, measures and owner; two events a round; the last result and approval.
    assert count == 2 + 2 + 2 * ROUNDS + 2
    assert rejection is not None
    assert rejection.data == {"decision": "reject", "comment": "第100次退回"}
