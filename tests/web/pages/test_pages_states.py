"""Long text and states that show: a long title wraps in its own column, deadlines show their state."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import workflow
from engine.store.db import transaction
from engine.store.models import Task
from tests.web.pages.conftest import Site

LONG_TITLE = ("窗口服务排队时间长群众反映强烈需要增设自助设备" * 9)[:200]
# How many lines a cell's text takes, and the size of one character, in the browser.
LINES = """td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  return Math.round(range.getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight));
}"""
EM = "td => parseFloat(getComputedStyle(td).fontSize)"
# Who completes each step of the default lifecycle, and with what.
STEPS = {
    "define_measures": ("manager", {"measures": "增设自助取号机"}),
    "assign_owner": ("manager", {"owner": "owner"}),
    "rectify": ("owner", {"result": "已增设两台取号机"}),
    "review": ("approver", {"decision": "approve"}),
}


def raise_item(sessions: sessionmaker[Session], title: str, steps: int) -> None:
    """An item of the office taken ``steps`` steps along its lifecycle."""
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title=title, department="office", deadline=dt.date(2099, 12, 31))
        item = workflow.create_item(session, reporter, new, "Asia/Shanghai")
        for _ in range(steps):
            task = session.scalars(select(Task).where(Task.item_id == item.id, Task.state == "ready")).one()
            username, data = STEPS[task.name]
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def test_a_long_title_wraps_in_its_column_and_an_overdue_item_shows_its_state(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    raise_item(sessions, "已销号的事项", steps=4)
    raise_item(sessions, "措施已制定的事项", steps=1)
    site.login("reporter")
    site.visit("/ledger/new")
    page.fill("#title", LONG_TITLE)
    page.select_option("#department", "office")
    page.fill("#deadline", "2020-01-31")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text(LONG_TITLE)

    # The item page: the overdue mark beside the deadline, and the day the warning began (3 days before).
    expect(page.locator("dd.deadline")).to_contain_text("已逾期")
    expect(page.locator("dd.warning-from")).to_have_text("2020年1月28日")

    site.login("approver")
    site.visit("/ledger")
    # Status tabs in the order an item lives through them, not alphabetically by code.
    expect(page.locator("nav.tabs a")).to_have_text(["全部 3", "问题已识别 1", "措施已制定 1", "已销号 1"])
    row = page.locator("table.ledger tbody tr", has_text=LONG_TITLE[:20])
    expect(row).to_have_class("overdue")
    # Beside a 200-character title the short columns keep their text on one line, never broken into a
    # column a character or two wide: 严重程度 (一般), 责任单位 (办公室), 整改时限 and 状态.
    for column in (5, 6, 8, 9):
        cell = row.locator("td").nth(column - 1)
        assert cell.evaluate(LINES) == 1, (column, cell.inner_text())
        box = cell.bounding_box()
        assert box is not None and box["width"] >= 3 * cell.evaluate(EM), (column, box)
    table, main = page.locator("table.ledger").bounding_box(), page.locator("main").bounding_box()
    assert table is not None and main is not None and table["width"] <= main["width"]
    expect(page.locator(".due-legend")).to_contain_text("已逾期")
    site.shot("11-long-title-ledger")
