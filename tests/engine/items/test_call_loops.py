"""Loops through a call activity keep the stored state flat: 200 reject rounds inside the called process,
and rounds that re-enter the call activity itself (each time a new called instance)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, from_folder
from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import Instance, Item
from tests.conftest import PROCESSES, People

ROUNDS = 200
# Bytes a flat state may differ by between two rounds: the tasks' timestamps are floats whose text varies in
# length (a round that kept anything would add hundreds of bytes).
JITTER = 64
EXAMPLES = PROCESSES / "examples"
CALLED = from_folder(EXAMPLES / "called_review.bpmn", EXAMPLES / "forms")
CALLER = from_folder(EXAMPLES / "call_activity.bpmn", EXAMPLES / "forms")
# The caller, calling again while the called check's comment says so.
LOOP = (
    b'<bpmn:exclusiveGateway id="again" default="flow_to_done"><bpmn:incoming>flow_to_again</bpmn:incoming>'
    b"<bpmn:outgoing>flow_to_done</bpmn:outgoing><bpmn:outgoing>flow_again</bpmn:outgoing></bpmn:exclusiveGateway>"
    b'<bpmn:sequenceFlow id="flow_to_again" sourceRef="review" targetRef="again" />'
    b'<bpmn:sequenceFlow id="flow_to_done" sourceRef="again" targetRef="done" />'
    b'<bpmn:sequenceFlow id="flow_again" sourceRef="again" targetRef="review">'
    b'<bpmn:conditionExpression>comment == "again"</bpmn:conditionExpression></bpmn:sequenceFlow>'
)
EDITS = [
    (b'<bpmn:sequenceFlow id="flow_to_done" sourceRef="review" targetRef="done" />', LOOP),
    (
        b"<bpmn:outgoing>flow_to_done</bpmn:outgoing>\n    </bpmn:callActivity>",
        b"<bpmn:outgoing>flow_to_again</bpmn:outgoing></bpmn:callActivity>",
    ),
    (
        b"<bpmn:incoming>flow_to_review</bpmn:incoming>",
        b"<bpmn:incoming>flow_to_review</bpmn:incoming><bpmn:incoming>flow_again</bpmn:incoming>",
    ),
]


def edited(bundle: Bundle, edits: list[tuple[bytes, bytes]]) -> Bundle:
    diagram = bundle.diagram
    for old, new in edits:
        assert old in diagram
        diagram = diagram.replace(old, new)
    return Bundle(diagram, bundle.forms)


AGAIN = edited(CALLER, EDITS)


def start(sessions: sessionmaker[Session], caller: Bundle) -> int:
    with transaction(sessions) as session:
        deploy.deploy(session, CALLED, actor=None)
        deploy.deploy(session, caller, actor=None)
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title="调用循环", department="office", process="call_activity")
        return workflow.create_item(session, reporter, new, "Asia/Shanghai").id


def step(sessions: sessionmaker[Session], item_id: int, username: str, data: dict[str, Any]) -> tuple[str, str]:
    """Complete the item's one task; the task now live and the item's status."""
    with transaction(sessions) as session:
        actor = identity.user_by_username(session, username)
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        item = workflow.complete_task(session, actor, task.id, data)
        live = items.live_tasks(session, item)
        return (live[0].name if live else ""), item.status


def state_size(sessions: sessionmaker[Session], item_id: int) -> int:
    with transaction(sessions) as session:
        return len(session.get_one(Instance, item_id).state)


def test_two_hundred_reject_rounds_inside_a_called_process_keep_the_state_flat(
    sessions: sessionmaker[Session], people: People
) -> None:
    item_id = start(sessions, CALLER)
    assert step(sessions, item_id, "manager", {}) == ("revise", "revising")
    sizes = {}
    for n in range(1, ROUNDS + 1):
        assert step(sessions, item_id, "manager", {}) == ("check", "checking")
        assert step(sessions, item_id, "approver", {"decision": "reject", "comment": f"第{n:04}次退回"}) == (
            "revise",
            "revising",
        )
        if n in (10, ROUNDS):
            sizes[n] = state_size(sessions, item_id)
    assert abs(sizes[ROUNDS] - sizes[10]) <= JITTER
    step(sessions, item_id, "manager", {})
    assert step(sessions, item_id, "approver", {"decision": "approve"}) == ("", "closed")


def test_rounds_that_call_again_keep_the_state_flat(sessions: sessionmaker[Session], people: People) -> None:
    item_id = start(sessions, AGAIN)
    step(sessions, item_id, "manager", {})
    sizes = {}
    for n in range(1, 31):
        step(sessions, item_id, "manager", {})
        assert step(sessions, item_id, "approver", {"decision": "approve", "comment": "again"})[0] == "revise"
        if n in (10, 30):
            sizes[n] = state_size(sessions, item_id)
    assert abs(sizes[30] - sizes[10]) <= JITTER
    step(sessions, item_id, "manager", {})
    assert step(sessions, item_id, "approver", {"decision": "approve", "comment": "好"}) == ("", "closed")
