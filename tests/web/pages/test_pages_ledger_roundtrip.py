"""The clerk's ledger goes out to Excel and comes back: an edited cell updates its item, nothing is duplicated."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from engine.store.models import Item
from tests.web.pages.conftest import Site


def raise_item(site: Site, title: str) -> None:
    site.visit("/ledger/new")
    site.page.fill("#title", title)
    site.page.select_option("#source", "群众反映")
    site.page.select_option("#department", "office")
    site.page.fill("#deadline", "2026-12-31")
    site.page.click("main button[type=submit]")
    expect(site.page.locator("h1")).to_have_text(title)


def reimport_edited(site: Site, tmp_path: Path, column: str, value: str) -> None:
    """Export the ledger, set ``column`` of its first item (窗口排队时间长) to ``value`` in Excel, upload it again."""
    site.visit("/ledger?sort=id")
    book = site.workbook(site.page.get_by_role("link", name="导出 Excel"))
    sheet = book.active
    assert sheet is not None
    columns = {cell.value: cell.column for cell in sheet[2]}
    assert sheet.cell(3, columns["问题描述"]).value == "窗口排队时间长"
    sheet.cell(3, columns[column], value)
    edited = tmp_path / "台账.xlsx"
    book.save(edited)
    site.visit("/ledger/import")
    site.page.set_input_files("input[type=file]", str(edited))
    site.page.click("main button[type=submit]")


def test_an_exported_ledger_edited_in_excel_updates_its_item_on_reimport(site: Site, tmp_path: Path) -> None:
    page = site.page
    site.login("reporter")
    raise_item(site, "窗口排队时间长")
    raise_item(site, "会议记录不全")

    reimport_edited(site, tmp_path, "整改时限", "2027年1月15日")
    page.wait_for_url(re.compile(r"/ledger/import/\w+$"))
    expect(page.locator("p.summary")).to_contain_text("新登记 0 个，更新 1 个，未变 1 个")
    expect(page.locator("table.updates tbody tr")).to_have_count(1)
    expect(page.locator("table.updates tbody tr td")).to_have_text(
        ["3", re.compile(r"\d+"), "整改时限", "2026-12-31", "2027-01-15"]
    )
    site.shot("ledger-reimport-preview")
    page.get_by_role("button", name=re.compile("确认导入")).click()
    expect(page.locator("p.flash")).to_contain_text("更新 1 个")
    expect(page.locator("h1 small")).to_have_text("共 2 项")  # nothing was duplicated

    page.get_by_role("link", name="窗口排队时间长").click()
    expect(page.locator("dl.facts dd.deadline")).to_contain_text("2027年1月15日")
    expect(page.locator("body")).to_contain_text("按台账更新了：整改时限：2026-12-31 → 2027-01-15")


def test_an_admin_adds_a_source_and_the_clerk_registers_an_item_with_it(site: Site) -> None:
    page = site.page
    site.login("admin")
    site.visit("/admin")
    page.fill("#s-name", "信访")
    page.get_by_role("button", name="添加问题来源").click()
    expect(page.locator("p.flash")).to_contain_text("信访")
    expect(page.locator("table.sources tbody tr").last).to_contain_text("信访")

    site.login("reporter")
    site.visit("/ledger/new")
    page.fill("#title", "信访件办理不及时")
    page.select_option("#source", "信访")
    page.select_option("#department", "office")
    page.click("main button[type=submit]")
    expect(page.locator("dl.facts")).to_contain_text("信访")


def test_a_confirm_after_the_item_changed_applies_nothing_and_shows_the_new_preview(
    site: Site, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    page = site.page
    site.login("reporter")
    raise_item(site, "窗口排队时间长")
    reimport_edited(site, tmp_path, "问题类别", "作风建设")
    expect(page.locator("table.updates tbody tr")).to_have_count(1)

    with transaction(sessions) as session:  # a colleague retitles the item meanwhile
        session.get_one(Item, 1).title = "窗口排队时间过长"
    page.get_by_role("button", name=re.compile("确认导入")).click()
    expect(page.locator("p.error[role=alert]")).to_contain_text("预览之后事项已有变化")
    expect(page.locator("table.updates tbody tr td:nth-child(3)")).to_have_text(["问题描述", "问题类别"])
    site.visit("/items/1")
    expect(page.locator("dl.facts")).not_to_contain_text("作风建设")  # nothing was applied
