"""The approver sees what they judge; a task sent back says so; every refusal is written for the person."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import progress, workflow
from engine.store.db import transaction
from engine.store.models import Item, Task
from tests.web.pages.conftest import Site

TITLE = "窗口排队时间长"
JOINT = "背街小巷环境整治"


def act(session: Session, item: Item, username: str, name: str, data: dict[str, Any], unit: str | None = None) -> None:
    query = select(Task).where(Task.item_id == item.id, Task.state == "ready", Task.name == name)
    (task,) = [t for t in session.scalars(query) if unit is None or t.instance_key == unit]
    workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def rectified_item(sessions: sessionmaker[Session]) -> int:
    """An office item whose owner reported progress and delivered a result with evidence: ready for review."""
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item = workflow.create_item(session, reporter, workflow.NewItem(title=TITLE, department="office"), "UTC")
        act(session, item, "manager", "define_measures", {"measures": "增设自助取号机"})
        act(session, item, "manager", "assign_owner", {"owner": "owner"})
        owner = identity.user_by_username(session, "owner")
        progress.report(session, owner.id, item, progress.NewProgress(note="已采购设备", percent=60, plan="安装调试"))
        act(session, item, "owner", "rectify", {"result": "已增设两台取号机", "evidence": "现场照片.jpg"})
        return item.id


def consolidated_joint_item(sessions: sessionmaker[Session]) -> None:
    """A joint item of the office with 工务科: both parts delivered, the lead's summary written."""
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title=JOINT, department="office", co_departments=("works",))
        item = workflow.create_item(session, reporter, new, "UTC")
        act(session, item, "manager", "unit_contribution", {"contribution": "清理楼道杂物"}, unit="office")
        act(session, item, "works_manager", "unit_contribution", {"contribution": "修复破损路面"}, unit="works")
        act(session, item, "manager", "consolidate", {"summary": "两单位均已完成整治"})


def open_task(site: Site, title: str) -> None:
    site.visit("/inbox")
    site.page.get_by_role("link", name=title).first.click()
    site.page.wait_for_load_state("networkidle")


def submit(site: Site) -> None:
    site.page.click(".task-form button[type=submit]")
    site.page.wait_for_load_state("networkidle")


def facts(site: Site, selector: str) -> list[tuple[str, str]]:
    labels = site.page.locator(f"{selector} dt").all_inner_texts()
    return list(zip(labels, site.page.locator(f"{selector} dd").all_inner_texts(), strict=True))


def test_the_reviewer_judges_what_was_submitted_and_a_rejection_comes_back_to_the_owner(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    rectified_item(sessions)

    site.login("approver")
    open_task(site, TITLE)
    # At the top, before the form: each earlier step's answer under its form's titles, then the progress.
    expect(page.locator("main section").first).to_have_class("judged")
    assert facts(site, "section.judged") == [
        ("整改措施", "增设自助取号机"),
        ("责任人", "owner"),
        ("整改结果", "已增设两台取号机"),
        ("佐证材料", "现场照片.jpg"),
        ("进展情况", "已采购设备"),
        ("完成比例", "60%"),
        ("下步计划", "安装调试"),
    ]
    expect(page.locator("section.judged h3").first).to_contain_text("制定整改措施")
    site.shot("review-01-approver-judges")
    page.check("input[name=decision][value=reject]")
    page.fill("#f-comment", "缺少整改后的现场照片")
    submit(site)

    site.login("owner")
    site.visit("/inbox")
    row = page.locator("table.inbox tbody tr", has_text=TITLE)
    expect(row.locator(".tag.returned")).to_have_text("退回")
    row.get_by_role("link", name=TITLE).click()
    page.wait_for_load_state("networkidle")
    # The reason first (who sent it back), then the form holding the previous answer.
    returned = page.locator("main section").first
    expect(returned).to_have_class("returned")
    expect(returned).to_contain_text("approver")
    expect(returned.locator(".reason")).to_have_text("缺少整改后的现场照片")
    expect(page.locator("#f-result")).to_have_value("已增设两台取号机")
    expect(page.locator("#f-evidence")).to_have_value("现场照片.jpg")
    site.shot("review-02-owner-returned")

    site.visit("/language/en?next=/inbox")
    expect(page.locator("table.inbox tbody tr", has_text=TITLE).locator(".tag.returned")).to_have_text("Returned")


def test_a_joint_review_shows_each_units_part_and_the_summary(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    consolidated_joint_item(sessions)

    site.login("approver")
    open_task(site, JOINT)
    expect(page.locator("main section").first).to_have_class("judged")
    headings = page.locator("section.judged h3").all_inner_texts()
    assert len(headings) == 3
    assert re.match(r"^各单位办理 · 办公室", headings[0]) and re.match(r"^各单位办理 · 工务科", headings[1])
    assert headings[2].startswith("牵头单位汇总")
    assert facts(site, "section.judged") == [
        ("本单位办理情况", "清理楼道杂物"),
        ("本单位办理情况", "修复破损路面"),
        ("汇总情况", "两单位均已完成整治"),
    ]
    site.shot("review-03-joint-review")


def test_a_refused_value_is_explained_beside_its_field_in_the_persons_language(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    consolidated_joint_item(sessions)

    site.login("approver")
    open_task(site, JOINT)
    page.check("input[name=decision][value=approve]")
    page.check("input[name=redo_departments][value=works]")
    submit(site)
    beside = page.locator(".field.invalid", has=page.locator("#f-redo_departments")).locator(".error")
    expect(beside).to_have_text("审核结论为“通过”时，“退回重办的单位”应为空")
    expect(page.locator("main")).not_to_contain_text("expected")
    site.shot("review-04-refused-in-chinese")

    site.visit(f"/language/en?next={page.url.removeprefix(site.base)}")
    page.check("input[name=decision][value=reject]")
    submit(site)
    beside = page.locator(".field.invalid", has=page.locator("#f-comment")).locator(".error")
    expect(beside).to_have_text("Comment is required when Decision is Reject")

    site.login("reporter")  # a new session speaks Chinese again
    site.visit("/ledger/new")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".field", has=page.locator("#title")).locator(".error")).to_have_text("此项为必填项")
    expect(page.locator("main")).not_to_contain_text("Missing data")


def test_a_finished_task_posted_again_says_it_is_done(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    item_id = rectified_item(sessions)

    site.login("approver")
    open_task(site, TITLE)
    task_url = page.url
    # The same task opened in a second tab, afresh (the same page with its token again is one form: test_pages_once).
    stale = page.context.new_page()
    stale.goto(urlsplit(task_url)._replace(query="").geturl())
    stale.check("input[name=decision][value=approve]")
    page.check("input[name=decision][value=approve]")
    submit(site)
    expect(page.locator(".flash")).to_contain_text("已提交：审核验收")

    stale.click(".task-form button[type=submit]")
    stale.wait_for_load_state("networkidle")
    assert urlsplit(stale.url).path == f"/items/{item_id}"
    expect(stale.locator(".flash")).to_have_text("此任务已办结，无需再次提交")
    expect(stale.locator("main")).not_to_contain_text("no longer ready")
    stale.close()

    # Opening the finished task's page again sends one to the item, saying the same.
    site.visit(task_url.removeprefix(site.base))
    assert urlsplit(page.url).path == f"/items/{item_id}"
    expect(page.locator(".flash")).to_have_text("此任务已办结，无需再次提交")


def test_an_answer_sent_after_the_item_changed_is_kept_to_check_and_send_again(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item = workflow.create_item(session, reporter, workflow.NewItem(title=TITLE, department="office"), "UTC")
        act(session, item, "manager", "define_measures", {"measures": "增设自助取号机"})
        act(session, item, "manager", "assign_owner", {"owner": "owner"})
        item_id = item.id

    site.login("owner")
    open_task(site, TITLE)
    page.fill("#f-result", "已增设两台取号机")
    with transaction(sessions) as session:  # the manager reports progress while the owner writes
        changed = session.get_one(Item, item_id)
        manager = identity.user_by_username(session, "manager")
        progress.report(session, manager.id, changed, progress.NewProgress(note="设备已到货"))
    submit(site)
    expect(page.locator(".task-form .error")).to_have_text("提交期间事项已被他人更新，请核对上方内容后再次提交")
    expect(page.locator("#f-result")).to_have_value("已增设两台取号机")
    expect(page.locator("section.judged")).to_contain_text("设备已到货")
    submit(site)
    expect(page.locator(".flash")).to_have_text("已提交：整改落实")
