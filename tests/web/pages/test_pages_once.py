"""No duplicates by accident: the reporter's form, sent again by the back button or a double click, raises one item."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from engine.store.models import Item, ProgressUpdate, Task
from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_actions import raise_item

TITLE = "窗口排队时间长"


def items_titled(sessions: sessionmaker[Session], title: str) -> list[int]:
    with transaction(sessions) as session:
        return list(session.scalars(select(Item.id).where(Item.title == title)))


def fill_new_item(site: Site, title: str) -> None:
    site.visit("/ledger/new")
    site.page.fill("#title", title)
    site.page.select_option("#department", "office")


def test_back_and_submit_again_shows_the_item_already_raised(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    site.login("reporter")
    fill_new_item(site, TITLE)
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text(TITLE)
    [item_id] = items_titled(sessions, TITLE)
    assert urlsplit(page.url).path == f"/items/{item_id}"

    page.go_back()
    expect(page.locator("#title")).to_have_value(TITLE)  # the form as it was sent
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")

    assert urlsplit(page.url).path == f"/items/{item_id}"  # the first item's page
    expect(page.locator(".flash")).to_contain_text("已登记，未重复创建")
    site.shot("once-01-back-and-again")
    assert items_titled(sessions, TITLE) == [item_id]

    # A form opened afresh is a new registration: the guard is the form's, not the title's.
    fill_new_item(site, TITLE)
    page.click("main button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已登记：")
    assert len(items_titled(sessions, TITLE)) == 2


def test_a_double_click_raises_one_item(site: Site, sessions: sessionmaker[Session]) -> None:
    """Chromium itself may send one post for the two clicks: twins that do reach the server are raced over HTTP
    in ``tests/web/test_idempotency_api.py``."""
    page = site.page
    site.login("reporter")
    fill_new_item(site, "双击登记")
    page.dblclick("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("双击登记")

    [item_id] = items_titled(sessions, "双击登记")
    expect(page).to_have_url(re.compile(f"/items/{item_id}(\\?|$)"))


def test_in_english_the_repeat_is_explained_in_english(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    site.login("reporter")
    site.visit("/language/en")
    fill_new_item(site, TITLE)
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text(TITLE)
    page.go_back()
    page.click("main button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Already raised: nothing was created twice")
    assert len(items_titled(sessions, TITLE)) == 1


def test_a_task_form_sent_again_is_not_done_twice(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    site.login("reporter")
    fill_new_item(site, TITLE)
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text(TITLE)

    site.login("manager")
    site.visit("/inbox")
    page.get_by_role("link", name=re.compile(TITLE)).first.click()
    expect(page.locator(".task-form h2")).to_have_text("制定整改措施")
    page.fill("#f-measures", "增设自助取号机")
    page.click(".task-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已提交：")

    # Back to the task's page: it is done, so the item's page says so instead of offering the form again.
    page.go_back()
    expect(page.locator(".flash")).to_have_text("此任务已办结，无需再次提交")
    expect(page.locator(".task-form")).to_have_count(0)
    site.shot("once-02-task-sent-again")
    with transaction(sessions) as session:
        done = session.scalars(select(Task.name).where(Task.state == "completed")).all()
    assert done == ["define_measures"]


def test_a_progress_report_sent_again_from_the_back_button_is_kept_once(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    """The item page holds several forms under one token; each is sent once, and another one still goes."""
    page = site.page
    item_id = raise_item(sessions, steps=2)  # the owner is at work
    site.login("owner")
    site.visit(f"/items/{item_id}")
    page.fill("#p-note", "已采购两台取号机")
    page.locator("#report-progress form").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已报送进展")

    page.go_back()
    expect(page.locator("#p-note")).to_have_value("已采购两台取号机")
    page.locator("#report-progress form").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已提交，未重复提交")
    expect(page.locator("ul.updates li")).to_have_count(1)

    # The same page's other form (asking for more time) is a request of its own.
    page.go_back()
    page.fill("#x-new_deadline", "2100-01-31")
    page.fill("#x-reason", "设备到货延迟")
    page.locator("form.request-extension").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已提交延期申请，等待审批")
    with transaction(sessions) as session:
        assert session.scalars(select(ProgressUpdate.note)).all() == ["已采购两台取号机"]
