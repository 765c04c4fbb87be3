"""The timeline speaks people's words: names and units, step titles, status labels, field titles, sentences.

Every action the product records (``action=`` in ``engine/``) is put in one item's history, then the
item page is read as a person reads it, in Chinese and in English.
"""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from flask.testing import FlaskClient
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import history
from engine.bpmn.instance import Failure
from engine.deadlines import extensions
from engine.identity import identity
from engine.items import delegation, incidents, items, progress, workflow
from engine.store.db import transaction
from engine.store.models import Item
from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_language import csrf

PASSWORD = "correct horse battery staple"
TZ = "Asia/Shanghai"
PEOPLE = {
    "wang": ("office", ["reporter"], "王芳"),
    "li": ("office", ["manager"], "李主任"),
    "zhang": ("office", ["member"], "张伟"),
    "zhao": (None, ["approver"], "赵审核"),
    "qian": (None, ["auditor"], "钱审计"),
}


def _complete(session: Session, username: str, item_id: int, data: dict[str, object]) -> None:
    (task,) = items.live_tasks(session, session.get_one(Item, item_id))
    workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def _every_action(sessions: sessionmaker[Session], *, add_unit: bool = True) -> int:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False), transaction(sessions) as session:
        if add_unit:
            identity.add_department(session, "office", "办公室")
        for username, (unit, roles, name) in PEOPLE.items():
            identity.add_user(session, username, unit, roles, display_name=name, password=PASSWORD)
        new = workflow.NewItem(title="窗口排队", department="office", source="群众反映", deadline=dt.date(2026, 12, 10))
        item = workflow.create_item(session, identity.user_by_username(session, "wang"), new, TZ)
        item_id = item.id
        (task,) = items.live_tasks(session, item)
        delegation.assign(session, identity.user_by_username(session, "li"), task.id, "zhang")
        _complete(session, "zhang", item_id, {"measures": "增设取号机"})
        _complete(session, "li", item_id, {"owner": "zhang"})
        progress.report(session, item.owner_id or 0, item, progress.NewProgress("已采购", 50, "安装调试"))
        incidents.open_incident(session, item, Failure("notify_script", "NameError: name 'x' is not defined"))
        outcome = {"incident": 1, "resolved": True, "data": {}, "message": None}
        history.record(session, item, actor="qian", action="incident_retried", task="notify_script", data=outcome)
        history.record_change(session, item, actor="wang", action="imported", data={"row": 3, "remarks": "台账"})
        history.record_change(session, item, actor="wang", action="archived_by_robot", data={"box": {"n": 1}})
        external = {"worker": "geo-1", "topic": "geocode", "variables": {"district": "东城区"}}
        history.record_change(session, item, actor="robot", action="external_completed", task="locate", data=external)
        decided = {"decision": "deadline_rule", "version": 2, "hit_policy": "UNIQUE", "outputs": {"days": 7}}
        decided |= {"inputs": {"类别 Category": "安全"}, "matched_rules": ["safety_high"]}
        history.record(session, item, actor=None, action="decision", task="decide_deadline", data=decided)
    with time_machine.travel("2026-12-08T01:00:00+00:00", tick=False), transaction(sessions) as session:
        assert workflow.fire_timers(session, item_id) == ["rectify_warning"]
        item = session.get_one(Item, item_id)
        zhang, zhao = identity.user_by_username(session, "zhang"), identity.user_by_username(session, "zhao")
        asked = extensions.request(session, zhang, item, dt.date(2026, 12, 20), "设备到货延迟", dt.date(2026, 12, 8))
        extensions.decide(session, zhao, asked.id, extensions.Decision(False, "理由不足"), TZ)
    with time_machine.travel("2026-12-10T16:00:01+00:00", tick=False), transaction(sessions) as session:
        assert workflow.fire_timers(session, item_id) == ["rectify_overdue"]
        item = session.get_one(Item, item_id)
        zhang, zhao = identity.user_by_username(session, "zhang"), identity.user_by_username(session, "zhao")
        asked = extensions.request(session, zhang, item, dt.date(2026, 12, 31), "再申请", dt.date(2026, 12, 11))
        extensions.decide(session, zhao, asked.id, extensions.Decision(True, "同意"), TZ)
        _complete(session, "zhang", item_id, {"result": "已增设两台"})
        _complete(session, "zhao", item_id, {"decision": "reject", "comment": "缺少照片佐证"})
    return item_id


def _timeline(client: FlaskClient, item_id: int) -> str:
    page = client.get(f"/items/{item_id}", follow_redirects=True).get_data(as_text=True)
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.DOTALL)
    assert found, page
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_timeline_of_every_action_reads_as_sentences_in_both_languages(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    item_id = _every_action(sessions)
    token = csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"csrf_token": token, "username": "qian", "password": PASSWORD})

    queries: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        queries.append(statement)

    sa_event.listen(Engine, "before_cursor_execute", note)
    try:
        text = _timeline(client, item_id)
    finally:
        sa_event.remove(Engine, "before_cursor_execute", note)
    for expected in [
        "王芳 （办公室） 登记了事项",
        "问题来源 群众反映",
        "整改时限 2026年12月10日",
        "长期整改 否",
        "李主任 （办公室） 将“制定整改措施”指派给 张伟",
        "张伟 （办公室） 完成了“制定整改措施” 问题已识别 → 措施已制定 整改措施 增设取号机",
        "完成了“明确责任人” 措施已制定 → 责任人整改中 责任人 张伟",
        "报送了整改进展",
        "完成比例 50%",
        "系统 流程在“某个步骤”处出错",
        "NameError",
        "钱审计 重试“某个步骤”，故障已排除",
        "从台账导入了事项",
        "备注 台账",
        "2026年12月8日 已预警：整改时限将至",
        "2026年12月11日 逾期督办：已过整改时限",
        "申请延期至 2026年12月20日 设备到货延迟",
        "赵审核 不同意延期 理由不足",
        "同意延期至 2026年12月31日",
        "原整改时限 2026年12月10日",
        "赵审核 退回了“审核验收” 审核中 → 责任人整改中 缺少照片佐证",
        "记录了“archived by robot”",
        "robot 外部系统（geo-1）完成了“某个步骤”",
        "系统 按决策表“deadline_rule”第 2 版确定了“某个步骤” 决策结果 days：7",
        "决策依据 类别 Category：安全 命中规则 safety_high",
    ]:
        assert expected in text, f"{expected!r} not in {text!r}"
    internal = r"status_from|ongoing|\{'key'|kind|warning|overdue|True|False|identified|define_measures|rectify|None"
    internal += r"|geocode|district"
    assert re.findall(internal, text) == []
    assert re.findall(r"\b(wang|li|zhang|zhao|qian)\b", text) == []
    # Who is who, and which unit, is read once for the whole page, not once per event.
    assert len([q for q in queries if "FROM user_account" in q and " IN " in q]) == 1

    client.get("/language/en")
    english = _timeline(client, item_id)
    for expected in [
        "王芳 (办公室) registered the item",
        "赵审核 rejected “Review” In review → Owner rectifying",
        "2026-12-08 Warning: the deadline is near",
        "2026-12-11 Overdue: escalated past the deadline",
        "Identified → Measures defined",
        "the external system (geo-1) completed",
        "decided by decision table “deadline_rule” version 2 decision outputs days：7",
    ]:
        assert expected in english, f"{expected!r} not in {english!r}"
    assert "登记了事项" not in english and "逾期督办" not in english


def test_an_auditor_reads_a_rejection_and_the_escalations_in_the_browser(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    item_id = _every_action(sessions, add_unit=False)  # the site's cast already has the office
    site.login("qian")
    page = site.visit(f"/items/{item_id}")
    timeline = page.locator(".timeline")
    expect(timeline.locator(".event-escalation").first).to_contain_text("2026年12月8日 已预警：整改时限将至")
    expect(timeline.locator(".event-escalation").last).to_contain_text("2026年12月11日 逾期督办：已过整改时限")
    rejected = timeline.locator(".event-completed").last
    expect(rejected).to_contain_text("赵审核")
    expect(rejected).to_contain_text("退回了“审核验收”")
    expect(rejected.locator(".move")).to_have_text("审核中 → 责任人整改中")
    expect(rejected.locator(".reason")).to_have_text("缺少照片佐证")
    expect(timeline).not_to_contain_text("rectify_warning")
    site.shot("timeline-zh")

    site.visit("/language/en")
    page = site.visit(f"/items/{item_id}")
    expect(page.locator(".timeline .event-completed").last).to_contain_text("rejected “Review”")
    expect(page.locator(".timeline .event-escalation").last).to_contain_text("2026-12-11 Overdue")
