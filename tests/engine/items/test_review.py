"""engine.items.review without HTTP: what a reviewer judges, and a task sent back with its reason and last answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, from_folder
from engine.identity.identity import user_by_username
from engine.items import items, progress, review, workflow
from engine.store.models import Item, Task
from tests.conftest import PROCESSES, People


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def ready(session: Session, item: Item, name: str, unit: str | None = None) -> Task:
    (task,) = [
        t for t in items.live_tasks(session, item) if t.name == name and (unit is None or t.instance_key == unit)
    ]
    return task


def do(session: Session, item: Item, username: str, name: str, data: dict[str, Any], unit: str | None = None) -> Task:
    task = ready(session, item, name, unit)
    workflow.complete_task(session, user_by_username(session, username), task.id, data)
    return task


def shown(judged: review.Judged) -> list[tuple[str, str | None, list[tuple[str | None, Any]]]]:
    """Each submission as (step title, unit, [(field title, value)]): what the panel labels, never a key."""
    return [(s.task.title, s.unit, [(a.title, a.value) for a in s.answers]) for s in judged.submissions]


@pytest.fixture
def item(session: Session) -> Item:
    reporter = user_by_username(session, "reporter")
    raised = workflow.create_item(session, reporter, workflow.NewItem(title="窗口排队", department="office"), "UTC")
    do(session, raised, "manager", "define_measures", {"measures": "增设取号机"})
    do(session, raised, "manager", "assign_owner", {"owner": "owner"})
    return raised


def test_a_review_judges_measures_owner_result_evidence_and_progress(session: Session, item: Item) -> None:
    owner = user_by_username(session, "owner")
    progress.report(session, owner.id, item, progress.NewProgress(note="已采购", percent=60, plan="安装调试"))
    do(session, item, "owner", "rectify", {"result": "已增设两台", "evidence": "现场照片.jpg"})

    judged = review.what_to_judge(session, ready(session, item, "review"))

    assert shown(judged) == [
        ("制定整改措施 Define measures", None, [("整改措施 Measures", "增设取号机")]),
        ("明确责任人 Assign owner", None, [("责任人 Owner", "owner")]),
        ("整改落实 Rectify", None, [("整改结果 Result", "已增设两台"), ("佐证材料 Evidence", "现场照片.jpg")]),
    ]
    assert [s.task.completed_by.username for s in judged.submissions if s.task.completed_by] == [
        "manager",
        "manager",
        "owner",
    ]
    assert [(u.note, u.percent, u.plan) for u in judged.progress] == [("已采购", 60, "安装调试")]


def test_a_rejected_task_comes_back_with_the_reason_and_its_last_answer(session: Session, item: Item) -> None:
    do(session, item, "owner", "rectify", {"result": "已增设两台"})
    first_review = ready(session, item, "review")
    assert review.returns(session, [ready(session, item, "review")]) == {}  # a first review is no return
    do(session, item, "approver", "review", {"decision": "reject", "comment": "缺少照片佐证"})

    again = ready(session, item, "rectify")
    back = review.returns(session, [again])[again.id]
    assert (back.reason, back.previous) == ("缺少照片佐证", {"result": "已增设两台"})
    assert back.by is not None and back.by.username == "approver" and back.at == first_review.completed_at

    do(session, item, "owner", "rectify", {"result": "已补充照片", "evidence": "照片.jpg"})
    second_review = ready(session, item, "review")
    # The reviewer judges the latest answer; the rejection was the return, not something to judge.
    assert shown(review.what_to_judge(session, second_review))[-1] == (
        "整改落实 Rectify",
        None,
        [("整改结果 Result", "已补充照片"), ("佐证材料 Evidence", "照片.jpg")],
    )
    assert "审核验收 Review" not in [s.task.title for s in review.what_to_judge(session, second_review).submissions]
    assert review.returns(session, [second_review]) == {}  # the review itself was not sent back


def test_a_joint_review_judges_each_units_part_and_the_summary(session: Session) -> None:
    reporter = user_by_username(session, "reporter")
    new = workflow.NewItem(title="背街小巷", department="office", co_departments=("works",))
    item = workflow.create_item(session, reporter, new, "UTC")
    do(session, item, "manager", "unit_contribution", {"contribution": "清理杂物"}, unit="office")
    do(session, item, "works_manager", "unit_contribution", {"contribution": "修复路面"}, unit="works")
    do(session, item, "manager", "consolidate", {"summary": "两单位均已完成"})

    judged = review.what_to_judge(session, ready(session, item, "review"))
    assert shown(judged) == [
        ("各单位办理 Unit contribution", "办公室", [("本单位办理情况 What this unit did", "清理杂物")]),
        ("各单位办理 Unit contribution", "工务科", [("本单位办理情况 What this unit did", "修复路面")]),
        ("牵头单位汇总 Consolidate", None, [("汇总情况 Summary", "两单位均已完成")]),
    ]

    data = {"decision": "reject", "comment": "路面修复不彻底", "redo_departments": ["works"]}
    do(session, item, "approver", "review", data)
    redo = ready(session, item, "unit_contribution", unit="works")
    back = review.returns(session, [redo])
    assert (back[redo.id].reason, back[redo.id].previous) == ("路面修复不彻底", {"contribution": "修复路面"})


def test_the_inbox_marks_exactly_the_tasks_sent_back_among_many_items(session: Session, item: Item) -> None:
    reporter = user_by_username(session, "reporter")
    fresh = workflow.create_item(session, reporter, workflow.NewItem(title="新事项", department="office"), "UTC")
    do(session, item, "owner", "rectify", {"result": "已增设两台"})
    do(session, item, "approver", "review", {"decision": "reject", "comment": "缺少照片佐证"})
    again = ready(session, item, "rectify")
    reviewed = workflow.create_item(session, reporter, workflow.NewItem(title="待审核", department="office"), "UTC")
    for name, data in (("define_measures", {"measures": "m"}), ("assign_owner", {"owner": "owner"})):
        do(session, reviewed, "manager", name, data)
    do(session, reviewed, "owner", "rectify", {"result": "r"})
    first = ready(session, reviewed, "review")  # a first review is no return

    tasks = [again, ready(session, fresh, "define_measures"), first]
    assert review.returned(session, tasks) == {again.id}
    assert review.returned(session, []) == set()


def test_a_called_step_with_the_id_of_one_of_the_callers_is_judged_as_a_step_of_its_own(session: Session) -> None:
    examples = PROCESSES / "examples"
    called = from_folder(examples / "called_review.bpmn", examples / "forms")
    # The called process's first step gets the id of the caller's first step ("prepare"): two steps all the same.
    deploy.deploy(session, Bundle(called.diagram.replace(b"revise", b"prepare"), called.forms), actor=None)
    deploy.deploy(session, from_folder(examples / "call_activity.bpmn", examples / "forms"), actor=None)
    new = workflow.NewItem(title="调用活动", department="office", process="call_activity")
    item = workflow.create_item(session, user_by_username(session, "reporter"), new, "UTC")
    do(session, item, "manager", "prepare", {})
    do(session, item, "manager", "prepare", {})

    judged = review.what_to_judge(session, ready(session, item, "check"))

    assert shown(judged) == [("准备 Prepare", None, []), ("整改 Revise", None, [])]
