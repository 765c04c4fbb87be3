"""A notification keeps what happened, and engine.notify.notification_text says it in Chinese or English."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity.identity import user_by_username
from engine.items import items, workflow
from engine.notify.notification_text import Said, describe
from engine.store.models import Item, Notification
from tests.conftest import People


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def do(session: Session, item: Item, username: str, data: dict[str, Any]) -> None:
    task = next(t for t in items.live_tasks(session, item) if t.state == "ready")
    workflow.complete_task(session, user_by_username(session, username), task.id, data)


def said(kind: str, data: dict[str, Any]) -> tuple[Said, Said, Said]:
    """In Chinese, in English, and in both (no language known)."""
    notification = Notification(kind=kind, data=data)
    return describe(notification, "zh"), describe(notification, "en"), describe(notification, None)


def test_a_rejection_is_stored_as_what_happened_and_said_in_either_language(session: Session) -> None:
    reporter = user_by_username(session, "reporter")
    item = workflow.create_item(session, reporter, workflow.NewItem(title="窗口排队", department="office"), "UTC")
    do(session, item, "manager", {"measures": "增设取号机"})
    do(session, item, "manager", {"owner": "owner"})
    do(session, item, "owner", {"result": "已增设两台"})
    do(session, item, "approver", {"decision": "reject", "comment": "缺少照片佐证"})

    owner = user_by_username(session, "owner")
    query = select(Notification).where(Notification.user_id == owner.id, Notification.kind == "rejection")
    (rejection,) = session.scalars(query)
    # No text in the row: the words are the reader's, the facts are the row's.
    assert {"title", "message"}.isdisjoint(column.key for column in inspect(Notification).columns)
    assert rejection.data == {"item": "窗口排队", "task": "整改落实 Rectify", "reason": "缺少照片佐证"}
    assert describe(rejection, "zh") == ("被退回：窗口排队", "整改落实｜退回原因：缺少照片佐证")
    assert describe(rejection, "en") == ("Sent back: 窗口排队", "Rectify | Reason: 缺少照片佐证")


def test_each_kind_reads_naturally_in_chinese_and_in_english() -> None:
    zh, en, both = said("task", {"item": "路灯不亮", "task": "整改落实 Rectify"})
    assert (zh, en) == (("新的待办：路灯不亮", "整改落实"), ("New task: 路灯不亮", "Rectify"))
    assert both == ("新的待办：路灯不亮 / New task: 路灯不亮", "整改落实\nRectify")

    zh, en, _ = said("assigned", {"item": "路灯不亮", "task": "牵头单位汇总 Consolidate"})
    assert (zh, en) == (("指派给您的待办：路灯不亮", "牵头单位汇总"), ("Assigned to you: 路灯不亮", "Consolidate"))

    zh, en, _ = said("warning", {"item": "路灯不亮", "step": "预警 Warning", "deadline": "2026-11-20"})
    assert (zh, en) == (
        ("预警：路灯不亮", "预警｜整改时限：2026年11月20日"),
        ("Warning: 路灯不亮", "Warning | Deadline: 2026-11-20"),
    )
    zh, en, _ = said("overdue", {"item": "路灯不亮", "step": "逾期 Overdue", "deadline": None})
    assert (zh, en) == (
        ("逾期督办：路灯不亮", "逾期｜整改时限：未定"),
        ("Overdue: 路灯不亮", "Overdue | Deadline: not set"),
    )

    asked = {"item": "路灯不亮", "deadline": "2026-11-30", "new_deadline": "2026-12-20", "reason": "材料采购周期长"}
    zh, en, _ = said("extension_requested", asked)
    assert (zh, en) == (
        ("延期申请：路灯不亮", "整改时限 2026年11月30日 → 2026年12月20日｜理由：材料采购周期长"),
        ("Extension requested: 路灯不亮", "Deadline 2026-11-30 → 2026-12-20 | Reason: 材料采购周期长"),
    )

    granted = {"item": "路灯不亮", "verdict": "granted", "new_deadline": "2026-12-20", "comment": None}
    zh, en, _ = said("extension_decided", granted)
    assert (zh, en) == (
        ("同意延期：路灯不亮", "新的整改时限：2026年12月20日"),
        ("Extension granted: 路灯不亮", "New deadline: 2026-12-20"),
    )
    refused = {**granted, "verdict": "refused", "comment": "理由不充分"}
    zh, en, _ = said("extension_decided", refused)
    assert (zh, en) == (
        ("不同意延期：路灯不亮", "申请的整改时限：2026年12月20日｜审批意见：理由不充分"),
        ("Extension refused: 路灯不亮", "Deadline asked for: 2026-12-20 | Comment: 理由不充分"),
    )


def test_an_escalation_the_office_has_no_word_for_is_named_by_its_kind() -> None:
    zh, en, _ = said("reminder", {"item": "路灯不亮", "step": "提醒 Reminder", "deadline": "2026-11-20"})
    assert (zh.title, en.title) == ("reminder：路灯不亮", "reminder: 路灯不亮")


def test_a_notification_from_before_0007_shows_the_text_it_was_stored_with() -> None:
    stored = {"stored": {"title": "被退回：路灯不亮", "message": "整改落实 Rectify｜退回原因 Reason: 仍有两盏不亮"}}
    zh, en, both = said("rejection", stored)
    assert zh == en == both == ("被退回：路灯不亮", "整改落实 Rectify｜退回原因 Reason: 仍有两盏不亮")
