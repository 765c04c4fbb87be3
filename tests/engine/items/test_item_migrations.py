"""Running items move onto a new version: at every step, with timers, inside a joint task, in a reject loop."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit
from engine.bpmn import deploy
from engine.bpmn.bundle import with_folder_forms
from engine.identity.identity import user_by_username
from engine.items import items, migrations, workflow
from engine.store import clock
from engine.store.errors import AlreadyDecided, Forbidden, InvalidInput
from engine.store.models import AdminLogEntry, HistoryEvent, Instance, Item, Job, ProcessDefinition, Task
from tests.conftest import People
from tests.redesign import BPMN, PROCESSES, _node, _remove, second_version

KEY = "rectification_item"
JOINT = "joint_task"
TIMEZONE = "UTC"


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def _renamed(root: etree._Element, old: str, new: str) -> None:
    """Give element ``old`` the id ``new`` everywhere the diagram refers to it."""
    for node in root.iter():
        for attribute, value in node.attrib.items():
            if value == old and attribute in ("id", "sourceRef", "targetRef", "bpmnElement", "attachedToRef"):
                node.set(attribute, new)
        if node.text == old:
            node.text = new


def default_v2(forms: Path) -> bytes:
    """The redesigned lifecycle (tests.redesign: site_check added, overdue timer removed, warning 5 days before),
    with ``assign_owner`` renamed ``appoint_owner`` and ``define_measures`` removed (start leads to the owner)."""
    root = etree.fromstring(second_version(forms))
    _renamed(root, "assign_owner", "appoint_owner")
    _node(root, "flow_to_measures").set("targetRef", "joint_or_single")
    _remove(root, "define_measures", "gather_units", "flow_to_gather", "flow_to_route")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def joint_v2() -> bytes:
    """The joint task with ``review`` renamed ``final_review`` and the warning 5 days before (its joint stage, a
    called process, stays as it is)."""
    root = etree.fromstring((PROCESSES / "joint_task.bpmn").read_bytes())
    _renamed(root, "review", "final_review")
    _node(root, "deadline_warning").find(
        f"{BPMN}timerEventDefinition/{BPMN}timeDate"
    ).text = "days_before(deadline_end, 5)"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _deploy(session: Session, content: bytes, forms: Path) -> ProcessDefinition:
    definition, created = deploy.deploy(session, with_folder_forms(content, forms), actor="designer")
    assert created
    return definition


def do(session: Session, item: Item, username: str, step: str, data: dict[str, Any], unit: str | None = None) -> None:
    (task,) = [
        task
        for task in items.live_tasks(session, item)
        if task.name == step and task.state == "ready" and unit in (None, task.instance_key)
    ]
    workflow.complete_task(session, user_by_username(session, username), task.id, data)


REJECT = {"decision": "reject", "comment": "证据不足"}
APPROVE = {"decision": "approve"}
# Version 1's way through the default lifecycle: each prefix leaves an item waiting at a step.
DEFAULT_PATH = [
    ("manager", "define_measures", {"measures": "增设取号机"}, None),
    ("manager", "assign_owner", {"owner": "owner"}, None),
    ("owner", "rectify", {"result": "已增设", "evidence": "现场照片"}, None),
    ("approver", "review", REJECT, None),
    ("owner", "rectify", {"result": "已补充", "evidence": "照片两张"}, None),
    ("approver", "review", APPROVE, None),
]
JOINT_PATH = [
    ("manager", "unit_contribution", {"contribution": "清理杂物"}, "office"),
    ("works_manager", "unit_contribution", {"contribution": "修复路面"}, "works"),
    ("manager", "consolidate", {"summary": "两单位均已完成"}, None),
    ("approver", "review", {**REJECT, "redo_departments": ["works"]}, None),
]


def _raise(session: Session, title: str, deadline: dt.date, joint: bool = False) -> Item:
    new = workflow.NewItem(
        title=title, department="office", deadline=deadline, co_departments=("works",) if joint else ()
    )
    return workflow.create_item(session, user_by_username(session, "reporter"), new, TIMEZONE)


# Where the items wait: name → (how far along which path, copies, days to the deadline).
# Four days left: version 1 warns 3 days before, version 2 five days before, so the move raises the warning.
PLACES = {
    "define": (DEFAULT_PATH[:0], 3, 30),
    "assign": (DEFAULT_PATH[:1], 3, 30),
    "rectify": (DEFAULT_PATH[:2], 3, 30),
    "review": (DEFAULT_PATH[:3], 3, 30),
    "rejected": (DEFAULT_PATH[:4], 3, 30),
    "review_again": (DEFAULT_PATH[:5], 3, 30),
    "warn_on_move": (DEFAULT_PATH[:2], 2, 3),
    "closed": (DEFAULT_PATH, 1, 30),
    "joint_units": (JOINT_PATH[:0], 2, 30),
    "joint_one_unit_done": (JOINT_PATH[:1], 2, 30),
    "joint_consolidate": (JOINT_PATH[:2], 2, 30),
    "joint_review": (JOINT_PATH[:3], 2, 30),
    "joint_units_redo": (JOINT_PATH[:4], 2, 30),
}


def thirty_items(session: Session) -> dict[str, list[int]]:
    """Items of version 1 waiting at every reachable step (and one closed): place → ids."""
    placed: dict[str, list[int]] = {}
    for name, (path, copies, days) in PLACES.items():
        for copy in range(copies):
            deadline = clock.today(TIMEZONE) + dt.timedelta(days=days)
            item = _raise(session, f"{name}-{copy}", deadline, joint=name.startswith("joint"))
            for username, step, data, unit in path:
                do(session, item, username, step, data, unit)
            placed.setdefault(name, []).append(item.id)
    return placed


def waiting(session: Session, item_id: int) -> list[tuple[str, str | None, str]]:
    rows = session.scalars(
        select(Task).where(Task.item_id == item_id, Task.state.in_(("ready", "waiting"))).order_by(Task.id)
    )
    return [(row.name, row.instance_key, row.state) for row in rows]


def run_jobs(session: Session) -> int:
    """Run the confirmed migrations' jobs as the worker does, in batches of 7; how many batches ran."""
    batches = 0
    for job in session.scalars(select(Job).where(Job.kind == migrations.MIGRATION_JOB, Job.due_at.is_not(None))):
        payload: dict[str, Any] | None = job.payload
        while payload is not None:
            payload = migrations.run_batch(session, payload, size=7)
            batches += 1
        job.due_at = None
    return batches


RENAMED = {"define_measures": "appoint_owner", "assign_owner": "appoint_owner"}
JOINT_RENAMED = {"review": "final_review"}


def kept(session: Session, item_id: int) -> tuple[list[tuple[str, str | None, str]], dict[str, Any]]:
    """What a move must keep: the waiting tasks (with their unit) and the item's data."""
    return waiting(session, item_id), dict(session.get_one(Instance, item_id).data)


def assert_moved(
    session: Session, item_id: int, before: tuple[Any, dict[str, Any]], target: int, renamed: dict[str, str]
) -> None:
    tasks, data = before
    assert session.get_one(Item, item_id).definition_id == target
    assert waiting(session, item_id) == [(renamed.get(step, step), unit, state) for step, unit, state in tasks]
    assert session.get_one(Instance, item_id).data.items() >= data.items()
    migrated = session.scalars(
        select(HistoryEvent).where(HistoryEvent.item_id == item_id, HistoryEvent.action == "migrated")
    ).one()
    said = (migrated.actor, migrated.data["requested_by"], migrated.data["from"], migrated.data["to"]["version"])
    assert said == ("approver", "designer", {"key": migrated.data["to"]["key"], "version": 1}, 2)


def finish(session: Session, item_id: int) -> None:
    """Complete every step the item waits at, the way each step's people would, until it is closed."""
    answers = {
        "define_measures": ("manager", {"measures": "m"}),
        "appoint_owner": ("manager", {"owner": "owner"}),
        "rectify": ("owner", {"result": "r", "evidence": "e"}),
        "site_check": ("approver2", {"finding": "属实"}),
        "consolidate": ("manager", {"summary": "s"}),
        "final_review": ("approver", APPROVE),
    }
    for _ in range(10):
        item = session.get_one(Item, item_id)
        if item.closed_at is not None:
            return
        for task in items.live_tasks(session, item):
            if task.state != "ready":
                continue
            if task.name == "unit_contribution":
                username = "manager" if task.instance_key == "office" else "works_manager"
                data: dict[str, Any] = {"contribution": "c"}
            elif task.name == "review":
                username, data = "approver", APPROVE
            else:
                username, data = answers[task.name]
            workflow.complete_task(session, user_by_username(session, username), task.id, data)
    raise AssertionError(f"item {item_id} did not close: {waiting(session, item_id)}")


def assert_unmapped_steps_block(session: Session, placed: dict[str, list[int]]) -> None:
    """Without a mapping, the items at the removed and the renamed step are blocked, by name; the others would move."""
    designer = user_by_username(session, "designer")
    tried = migrations.dry_run(session, designer, KEY, migrations.Ask(to_version=2, from_version=1))
    outcomes = {row["item"]: row for row in tried}
    assert placed["closed"][0] not in outcomes  # a finished item is not running: not selected
    for item_id in placed["define"]:
        assert outcomes[item_id]["outcome"] == "blocked"
        assert [b["element"] for b in outcomes[item_id]["blockers"]] == ["define_measures"]
    for item_id in placed["assign"]:
        assert outcomes[item_id]["outcome"] == "blocked"  # renamed: the id is gone without a mapping
    for item_id in placed["rectify"] + placed["rejected"]:
        row = outcomes[item_id]
        # The overdue watch version 2 drops stops, whatever step the item waits at.
        assert (row["outcome"], row["dropped"]) == ("moves", ["deadline_overdue_watch"])
        assert {"from": "rectify", "to": "rectify"} in row["moved"]


def test_thirty_items_at_every_step_move_to_a_redesigned_version_and_finish_on_it(
    session: Session, tmp_path: Path
) -> None:
    placed = thirty_items(session)
    assert sum(len(ids) for ids in placed.values()) == 31  # 30 running, 1 closed
    v2 = _deploy(session, default_v2(tmp_path / "forms"), tmp_path / "forms")
    shutil.copytree(PROCESSES / "forms", tmp_path / "joint_forms")
    joint2 = _deploy(session, joint_v2(), tmp_path / "joint_forms")
    designer, approver = user_by_username(session, "designer"), user_by_username(session, "approver")
    before = {item_id: kept(session, item_id) for ids in placed.values() for item_id in ids}
    joint_parts = {item_id: session.get_one(Item, item_id).version for item_id in placed["joint_one_unit_done"]}

    assert_unmapped_steps_block(session, placed)
    mapping = {"define_measures": "appoint_owner", "assign_owner": "appoint_owner"}
    ask = migrations.Ask(to_version=2, from_version=1, mapping=mapping, note="新增现场核查")
    assert {row["outcome"] for row in migrations.dry_run(session, designer, KEY, ask)} == {"moves"}
    assert session.get_one(Item, placed["define"][0]).definition_id != v2.id  # a dry run writes nothing

    asked = migrations.request(session, designer, KEY, ask)
    with pytest.raises(Forbidden):
        migrations.confirm(session, user_by_username(session, "designer"), KEY, asked.id)
    running = migrations.confirm(session, approver, KEY, asked.id)
    assert (running.state, running.report) == ("running", [])
    with pytest.raises(AlreadyDecided):
        migrations.confirm(session, user_by_username(session, "admin"), KEY, asked.id)
    assert run_jobs(session) == 3  # 20 items in batches of 7, 7 and 6
    assert asked.state == "done" and [row["outcome"] for row in asked.report] == ["moved"] * 20
    logged = session.scalars(
        select(AdminLogEntry.action).where(AdminLogEntry.action.like("migration.%")).order_by(AdminLogEntry.id)
    ).all()
    assert logged == ["migration.request", "migration.confirm", "migration.done"]

    joint_ask = migrations.Ask(to_version=2, from_version=1, mapping=JOINT_RENAMED)
    joint = migrations.confirm(session, approver, JOINT, migrations.request(session, designer, JOINT, joint_ask).id)
    run_jobs(session)
    assert [row["outcome"] for row in joint.report] == ["moved"] * 10

    for name, ids in placed.items():
        for item_id in ids:
            if name.startswith("joint"):
                assert_moved(session, item_id, before[item_id], joint2.id, JOINT_RENAMED)
            elif name != "closed":
                assert_moved(session, item_id, before[item_id], v2.id, RENAMED)
    assert waiting(session, placed["closed"][0]) == []

    # Inside the joint task: the part already done stays done, the other unit's part is still its own.
    for item_id in placed["joint_one_unit_done"]:
        assert waiting(session, item_id) == [("unit_contribution", "works", "ready")]
        assert session.get_one(Item, item_id).version == joint_parts[item_id] + 1

    # The warning timer now follows version 2: five days before the deadline, not three.
    item = session.get_one(Item, placed["rectify"][0])
    job = session.scalars(select(Job).where(Job.item_id == item.id)).one()
    assert job.due_at == dt.datetime.fromisoformat(clock.deadline_end(item.deadline, TIMEZONE)) - dt.timedelta(days=5)
    for item_id in placed["warn_on_move"]:
        actions = session.scalars(
            select(HistoryEvent.action).where(HistoryEvent.item_id == item_id).order_by(HistoryEvent.seq)
        ).all()
        assert actions[-2:] == ["migrated", "escalation"]

    for ids in placed.values():
        for item_id in ids:
            finish(session, item_id)
    # The site check that version 2 added was done by every default item that moved before its review passed.
    checks = session.scalars(select(Task.item_id).where(Task.name == "site_check", Task.state == "completed")).all()
    assert set(checks) == {
        i
        for name in ("define", "assign", "rectify", "review", "rejected", "review_again", "warn_on_move")
        for i in placed[name]
    }
    report = audit.verify(session)
    assert report.ok, report.problems


def test_nothing_moves_without_a_second_person_and_bad_asks_name_their_field(session: Session, tmp_path: Path) -> None:
    item = _raise(session, "待迁移", clock.today(TIMEZONE) + dt.timedelta(days=30))
    _deploy(session, default_v2(tmp_path / "forms"), tmp_path / "forms")
    designer = user_by_username(session, "designer")

    with pytest.raises(Forbidden):
        migrations.request(session, user_by_username(session, "approver"), KEY, migrations.Ask(2, from_version=1))
    for ask, field in [
        (migrations.Ask(to_version=9, from_version=1), "to_version"),
        (migrations.Ask(to_version=2, from_version=2), "from_version"),
        (migrations.Ask(to_version=2, items=(item.id, 99999)), "items"),
        (
            migrations.Ask(to_version=2, from_version=1, mapping={"define_measures": "nowhere"}),
            "mapping.define_measures",
        ),
        (migrations.Ask(to_version=2, from_version=1, mapping={"nothing": "appoint_owner"}), "mapping.nothing"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            migrations.dry_run(session, designer, KEY, ask)
        assert [error["field"] for error in refused.value.errors] == [field]

    asked = migrations.request(session, designer, KEY, migrations.Ask(2, items=(item.id,)))
    assert asked.report[0]["outcome"] == "blocked"  # waiting at the removed step, and no mapping
    declined = migrations.decline(session, designer, KEY, asked.id)  # the asker withdraws it
    assert declined.state == "declined"
    with pytest.raises(AlreadyDecided):
        migrations.confirm(session, user_by_username(session, "approver"), KEY, asked.id)
    assert session.get_one(Item, item.id).definition_id == session.scalar(
        select(ProcessDefinition.id).where(ProcessDefinition.key == KEY, ProcessDefinition.version == 1)
    )


def test_items_of_a_version_without_deadline_watches_gain_them_when_moved_onto_one(
    session: Session, tmp_path: Path
) -> None:
    """As a deployment upgrading to a lifecycle that watches the deadline throughout moves its running items."""
    root = etree.fromstring((PROCESSES / "rectification_item.bpmn").read_bytes())
    for watch in ("warning", "overdue"):  # each watch, what it holds, and their shapes
        _remove(root, f"deadline_{watch}_watch", f"deadline_{watch}", f"flow_{watch}")
    _remove(root, "warning_raised", "overdue_escalated")
    unwatched = _deploy(session, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), PROCESSES / "forms")
    item = _raise(session, "旧版事项", clock.today(TIMEZONE) + dt.timedelta(days=2))
    assert item.definition_id == unwatched.id
    for username, step, data, _unit in DEFAULT_PATH[:2]:
        do(session, item, username, step, data)
    assert session.scalars(select(Job.due_at).where(Job.item_id == item.id)).one_or_none() is None
    watched = _deploy(session, (PROCESSES / "rectification_item.bpmn").read_bytes(), PROCESSES / "forms")

    designer, approver = user_by_username(session, "designer"), user_by_username(session, "approver")
    ask = migrations.Ask(to_version=watched.version, items=[item.id])
    ((tried,),) = [migrations.dry_run(session, designer, KEY, ask)]
    assert (tried["outcome"], tried["armed"]) == ("moves", ["deadline_warning_watch", "deadline_overdue_watch"])
    migrations.confirm(session, approver, KEY, migrations.request(session, designer, KEY, ask).id)
    run_jobs(session)

    # Two days left: the warning (3 days before) is due already and comes at once; the overdue one waits.
    actions = session.scalars(
        select(HistoryEvent.action).where(HistoryEvent.item_id == item.id).order_by(HistoryEvent.seq)
    ).all()
    assert actions[-2:] == ["migrated", "escalation"]
    job = session.scalars(select(Job).where(Job.item_id == item.id, Job.kind == workflow.TIMER_JOB)).one()
    assert job.due_at == dt.datetime.fromisoformat(clock.deadline_end(item.deadline, TIMEZONE))
    assert waiting(session, item.id) == [("rectify", None, "ready")]
    finish(session, item.id)
    assert job.due_at is None
