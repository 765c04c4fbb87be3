"""The bell (通知), the auditor's history page and its workbook, an administrator's withdrawal and correction:
each walked in the browser against the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity.identity import user_by_username
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Item
from tests.web.pages.conftest import Site

TIMEZONE = "Asia/Shanghai"


def raise_item(
    sessions: sessionmaker[Session], title: str, department: str = "office", owner: str | None = None
) -> int:
    """An item raised by the reporter; with ``owner``, its manager has planned it and named that owner."""
    with transaction(sessions) as session:
        new = workflow.NewItem(title=title, department=department, deadline=None, ongoing=True)
        item = workflow.create_item(session, user_by_username(session, "reporter"), new, TIMEZONE)
        item_id = item.id
    if owner is not None:
        manager = "manager" if department == "office" else "works_manager"
        for data in ({"measures": "增设取号机"}, {"owner": owner}):
            with transaction(sessions) as session:
                item = session.get_one(Item, item_id)
                task = next(t for t in items.live_tasks(session, item) if t.state == "ready")
                workflow.complete_task(session, user_by_username(session, manager), task.id, data)
    return item_id


def bell(site: Site) -> str:
    return site.page.locator("header.top .bell").inner_text()


def test_a_person_sees_the_bell_follows_a_notification_to_the_item_and_the_count_drops(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    first = raise_item(sessions, "窗口排队时间长", owner="owner")
    raise_item(sessions, "停车位不足", owner="owner")

    site.login("owner")
    expect(page.locator("header.top .bell .count")).to_have_text("2")
    page.click("header.top .bell")
    expect(page.locator("li.notification.unread")).to_have_count(2)
    site.shot("bell-01-owner-notifications")
    # Newest first: the second item's task is at the top, the first item's below it.
    titles = page.locator("li.notification button.open")
    expect(titles.nth(0)).to_contain_text("停车位不足")
    titles.nth(1).click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == f"/items/{first}"
    expect(page.locator("h1")).to_have_text("窗口排队时间长")
    expect(page.locator("header.top .bell .count")).to_have_text("1")

    page.click("header.top .bell")
    expect(page.locator("li.notification.unread")).to_have_count(1)
    expect(page.locator("li.notification.read")).to_contain_text("窗口排队时间长")
    page.get_by_role("button", name="全部标为已读").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("li.notification.unread")).to_have_count(0)
    expect(page.locator("header.top .bell .count")).to_have_count(0)
    assert bell(site) == "通知"

    site.visit("/language/en?next=/notifications")
    expect(page.locator("header.top .bell")).to_have_text("Notifications")


def test_the_bell_says_a_rejection_and_its_reason_in_the_page_language(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = raise_item(sessions, "窗口排队时间长", owner="owner")
    for username, data in (
        ("owner", {"result": "已增设取号机"}),
        ("approver", {"decision": "reject", "comment": "缺少照片"}),
    ):
        with transaction(sessions) as session:
            task = next(t for t in items.live_tasks(session, session.get_one(Item, item_id)) if t.state == "ready")
            workflow.complete_task(session, user_by_username(session, username), task.id, data)

    site.login("owner")
    site.visit("/notifications")
    newest = page.locator("li.notification").first
    expect(newest.locator("button.open")).to_have_text("被退回：窗口排队时间长")
    expect(newest.locator(".message")).to_have_text("整改落实｜退回原因：缺少照片")

    site.visit("/language/en?next=/notifications")
    expect(newest.locator("button.open")).to_have_text("Sent back: 窗口排队时间长")
    expect(newest.locator(".message")).to_have_text("Rectify | Reason: 缺少照片")
    site.shot("bell-02-rejection-in-english")


def test_the_auditor_filters_the_history_and_downloads_exactly_those_events(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    raise_item(sessions, "办公室的事项", owner="owner")
    works = raise_item(sessions, "工务科的事项", department="works", owner="outsider")
    raise_item(sessions, "工务科的另一事项", department="works")
    with transaction(sessions) as session:
        wanted = [
            (item_id, seq)
            for item_id, seq in session.execute(
                select(HistoryEvent.item_id, HistoryEvent.seq)
                .where(HistoryEvent.actor == "works_manager")
                .order_by(HistoryEvent.item_id, HistoryEvent.seq)
            )
        ]
    assert len(wanted) == 2 and {item_id for item_id, _ in wanted} == {works}

    site.login("manager")
    expect(page.locator("header.top nav")).not_to_contain_text("审计")
    assert page.request.get(site.url("/audit")).status == 403

    site.login("auditor")
    page.click("header.top nav >> text=审计")
    page.select_option("#department", "works")
    page.fill("#actor", "works_manager")
    page.fill("#action", "completed")
    page.click("form.audit-filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    rows = page.locator("table.audit-events tbody tr")
    expect(rows).to_have_count(2)
    shown = [(int(str(row.get_attribute("data-item"))), int(str(row.get_attribute("data-seq")))) for row in rows.all()]
    assert shown == wanted
    site.shot("audit-01-filtered")

    sheet = site.workbook(page.get_by_role("link", name="下载 Excel（按当前筛选）")).active
    assert sheet is not None
    header, *lines = list(sheet.iter_rows(values_only=True))
    assert header[0] == "事项编号 Item" and header[5] == "操作人 Actor"
    assert [(line[0], line[3]) for line in lines] == wanted
    assert {(line[2], line[5], line[6]) for line in lines} == {("works", "works_manager", "completed")}

    page.fill("#item_id", "abc")
    page.click("form.audit-filters button[type=submit]")
    expect(page.locator(".field.invalid .error")).to_have_text("请填写事项编号（正整数）")


def test_an_admin_withdraws_an_item_registered_by_mistake_with_a_reason(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = raise_item(sessions, "重复登记的事项", owner="owner")

    site.login("manager")
    site.visit(f"/items/{item_id}")
    expect(page.locator("h1")).to_have_text("重复登记的事项")
    expect(page.locator(".item-admin")).to_have_count(0)
    expect(page.get_by_role("button", name="撤销")).to_have_count(0)

    site.login("owner")
    expect(page.locator("table.inbox tbody tr")).to_have_count(1)

    site.login("admin")
    site.visit(f"/items/{item_id}")
    page.click(".item-admin details.withdraw summary")
    page.get_by_role("button", name="撤销", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".item-admin .field.invalid .error")).to_have_text("请填写理由（不超过 2000 字）")
    expect(page.locator(".facts .status")).not_to_have_text("已撤销")
    page.fill("#w-reason", "与第 1 号事项重复登记")
    page.get_by_role("button", name="撤销", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash")).to_have_text("已撤销事项")
    expect(page.locator(".facts .status")).to_have_text("已撤销")
    withdrawn = page.locator(".timeline li.event-withdrawn")
    expect(withdrawn).to_contain_text("撤销了事项")
    expect(withdrawn.locator(".reason")).to_have_text("与第 1 号事项重复登记")
    expect(page.locator(".item-admin")).to_have_count(0)
    site.shot("withdraw-01-item")

    site.visit("/ledger")
    expect(page.locator("main")).to_contain_text("重复登记的事项")
    expect(page.locator("main")).to_contain_text("已撤销")

    site.login("owner")
    expect(page.locator("table.inbox tbody tr")).to_have_count(0)
    site.visit(f"/items/{item_id}")
    expect(page.locator(".facts .status")).to_have_text("已撤销")


def test_an_admin_corrects_an_item_and_the_timeline_shows_old_and_new(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = raise_item(sessions, "登记有误的事项")

    site.login("admin")
    site.visit(f"/items/{item_id}")
    page.click(".item-admin details.correct summary")
    page.fill("#c-title", "更正后的事项")
    page.select_option("#c-department", "works")
    page.click(".item-admin details.correct button[type=submit]")
    page.wait_for_load_state("networkidle")
    # Without a reason nothing changes, and what was typed is still there.
    expect(page.locator(".item-admin .field.invalid .error")).to_have_text("请填写理由（不超过 2000 字）")
    expect(page.locator("#c-title")).to_have_value("更正后的事项")
    expect(page.locator("h1")).to_have_text("登记有误的事项")
    page.fill("#c-reason", "责任单位登记错了")
    page.click(".item-admin details.correct button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("更正后的事项")
    corrected = page.locator(".timeline li.event-corrected")
    expect(corrected).to_contain_text("更正了登记信息")
    expect(corrected.locator(".reason")).to_have_text("责任单位登记错了")
    expect(corrected).to_contain_text(re.compile("事项标题\\s*登记有误的事项 → 更正后的事项"))
    expect(corrected).to_contain_text(re.compile("责任单位\\s*办公室 → 工务科"))
    site.shot("correct-01-item")

    site.login("works_manager")
    expect(page.locator("table.inbox tbody tr")).to_have_count(1)
    expect(page.locator("table.inbox")).to_contain_text("更正后的事项")


def test_an_admin_clears_an_items_source_and_category_and_raises_its_severity_but_not_its_title(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    with transaction(sessions) as session:
        new = workflow.NewItem(title="来源登记错了", department="office", source="自查", category="窗口服务")
        item_id = workflow.create_item(session, user_by_username(session, "reporter"), new, TIMEZONE).id

    site.login("admin")
    site.visit(f"/items/{item_id}")
    page.click(".item-admin details.correct summary")
    page.fill("#c-title", "")
    page.fill("#c-reason", "来源不详")
    page.click(".item-admin details.correct button[type=submit]")
    page.wait_for_load_state("networkidle")
    title = page.locator(".item-admin .field.invalid", has=page.locator("#c-title"))
    expect(title.locator(".error")).to_have_text("此项为必填项")
    expect(page.locator("h1")).to_have_text("来源登记错了")

    page.fill("#c-title", "来源登记错了")
    page.select_option("#c-source", "")
    page.fill("#c-category", "")
    expect(page.locator("#c-severity")).to_have_value("一般")
    page.select_option("#c-severity", "较重")
    page.click(".item-admin details.correct button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash")).to_have_text("已更正事项")
    facts = page.locator(".facts")
    expect(facts.locator("dt:has-text('问题来源') + dd")).to_have_text("")
    expect(facts.locator("dt:has-text('问题类别') + dd")).to_have_text("")
    corrected = page.locator(".timeline li.event-corrected")
    expect(corrected).to_contain_text(re.compile("问题来源\\s*自查 → —"))
    expect(corrected).to_contain_text(re.compile("问题类别\\s*窗口服务 → —"))
    expect(facts.locator("dd.severity")).to_have_text("较重")
    expect(corrected).to_contain_text(re.compile("严重程度\\s*一般 → 较重"))
    expect(corrected).not_to_contain_text("事项标题")
