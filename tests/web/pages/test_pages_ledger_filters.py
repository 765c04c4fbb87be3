"""A filter the ledger cannot apply is named beside its field, by its label, in the page's language."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import workflow
from engine.store.db import transaction
from tests.web.pages.conftest import Site
from web.api.schemas import ItemPageQuerySchema
from web.pages import ledger


def problem(html: str) -> str:
    """What an error page says (the rest is the site's header, whose links carry the URL asked for)."""
    return html[html.index('<section class="problem">') : html.index("</section>")]


def test_a_wrong_filter_is_named_beside_its_field_and_lists_nothing(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        new = workflow.NewItem(title="窗口排队时间长", department="office", deadline=dt.date(2026, 12, 31))
        workflow.create_item(session, identity.user_by_username(session, "reporter"), new, "Asia/Shanghai")
    page = site.page
    site.login("reporter")
    wrong = "/ledger?q=窗口&deadline_from=notadate&page=0"
    response = page.goto(site.url(wrong))
    assert response is not None and response.status == 200
    field = page.locator("form.filters label", has=page.locator("[name=deadline_from]"))
    expect(field.locator(".error")).to_have_text("时限自：请填写日期，如 2026-12-31")
    expect(page.locator("form.filters > .error")).to_have_text("页码：应在 1 至 2147483647 之间")
    # What was typed stays (a date field keeps the text in its attribute; browsers show only a date).
    expect(page.locator("[name=q]")).to_have_value("窗口")
    assert page.locator("[name=deadline_from]").get_attribute("value") == "notadate"
    # Nothing is listed under a filter that was not applied, and nothing offers it for export.
    expect(page.locator("table.ledger tbody")).to_have_text("筛选条件有误：改正后再筛选，即列出事项。")
    expect(page.get_by_role("link", name="导出 Excel")).to_have_count(0)

    page.fill("[name=deadline_from]", "2026-12-01")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("table.ledger tbody")).to_contain_text("窗口排队时间长")
    expect(page.locator("form.filters .error")).to_have_count(0)

    site.visit("/language/en?next=/ledger")
    page.goto(site.url(wrong))
    expect(field.locator(".error")).to_have_text("Deadline from: Enter a date such as 2026-12-31")

    # A crafted export link lands on the error page, which names the field by its label, never by its key.
    exported = page.request.get(site.url("/ledger/export.xlsx?deadline_from=notadate"))
    assert exported.status == 422
    assert "Deadline from: Enter a date such as 2026-12-31" in problem(exported.text())
    assert "deadline_from" not in problem(exported.text())


def test_an_error_page_never_shows_a_fields_key(site: Site) -> None:
    site.login("auditor")
    refused = site.page.request.get(site.url("/audit/history.xlsx?item_id=abc"))
    assert refused.status == 422
    assert "请填写事项编号（正整数）" in problem(refused.text())
    assert "item_id" not in problem(refused.text())


def test_every_filter_has_its_label(app: Flask) -> None:
    with app.test_request_context():
        assert set(ledger.filter_labels()) == set(ItemPageQuerySchema().fields)


def test_a_reporter_picks_a_severity_and_the_ledger_shows_and_filters_by_it(site: Site) -> None:
    page = site.page
    site.login("reporter")
    for title, severity in (("门禁系统失灵", "严重"), ("窗口排队时间长", None)):
        site.visit("/ledger/new")
        expect(page.locator("#severity option")).to_have_text(["一般", "较重", "严重"])
        expect(page.locator("#severity")).to_have_value("一般")  # preselected
        page.fill("#title", title)
        page.select_option("#department", "office")
        if severity is not None:
            page.select_option("#severity", severity)
        page.click("main button[type=submit]")
        expect(page.locator("dd.severity")).to_have_text(severity or "一般")
    site.visit("/ledger")
    page.select_option("form.filters [name=severity]", "严重")
    page.click("form.filters button[type=submit]")
    expect(page.locator("table.ledger tbody td.title")).to_have_text(["门禁系统失灵"])
    expect(page.locator("table.ledger tbody td.severity")).to_have_text(["严重"])
    site.visit("/language/en")
    site.visit("/ledger?severity=严重")
    expect(page.locator("table.ledger tbody td.severity")).to_have_text(["Severe"])
