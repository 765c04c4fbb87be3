"""报表 on the pages: the clerk opens 总览 → reports, picks each kind and a period, sees the figures and
downloads the same workbook; who may not read reports sees no link and is refused; English pages give
English workbooks.

The ledger and its hand-counted figures are those of ``tests/engine/reports/test_reports.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from openpyxl.worksheet.worksheet import Worksheet
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.reports import report_xlsx, reports
from engine.reports.report_xlsx import HEADER_ROW
from tests.engine.reports.test_reports import BJ, DISPATCH_2026_11_2, MONTHLY_2026_11, WEEK_2026_W47, build_ledger
from tests.web.pages.conftest import Site

UNITS = {"office": "办公室", "works": "工务科"}


@pytest.fixture
def ledger(site: Site, sessions: sessionmaker[Session]) -> Site:
    build_ledger(sessions)
    return site


def page_rows(site: Site) -> list[list[str]]:
    rows = site.page.locator("#report tbody tr, #report tfoot tr")
    return [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in rows.all()]


def download(site: Site) -> Worksheet:
    sheet = site.workbook(site.page.locator("#download")).active
    assert isinstance(sheet, Worksheet)
    return sheet


def body(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]


def shown(column: int, value: Any) -> str:
    """A workbook value as the page prints it: a rate in percent, a missing figure as a dash."""
    if value is None:
        return "" if column == 0 else "—"
    if column == 8:
        return f"{value * 100:.1f}%"
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    return str(value)


def hand_counted(expected: dict[str, tuple[Any, ...]]) -> list[list[str]]:
    """The hand counts of the engine test, as the page prints them."""
    units = [[str(n), UNITS[code], *values] for n, (code, values) in enumerate(list(expected.items())[:-1], 1)]
    rows = [*units, ["", "合计", *expected["total"]]]
    return [[*row[:2], *(shown(i, value) for i, value in enumerate(row[2:], start=2))] for row in rows]


def pick_day(site: Site, day: str, show: str = "查看") -> None:
    site.page.fill("#f-day", day)
    site.page.get_by_role("button", name=show).click()
    site.page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    ("link", "kind", "day", "title", "expected"),
    [
        ("本旬调度", "dispatch", "2026-11-15", "2026年11月中旬调度表", DISPATCH_2026_11_2),
        ("本月总结", "monthly", "2026-11-30", "2026年11月总结表", MONTHLY_2026_11),
    ],
)
def test_the_clerk_downloads_the_figures_the_page_shows(
    ledger: Site, link: str, kind: str, day: str, title: str, expected: dict[str, tuple[Any, ...]]
) -> None:
    site, page = ledger, ledger.page
    site.login("reporter")
    site.visit("/dashboard")
    page.get_by_role("link", name=link).click()
    page.wait_for_load_state("networkidle")
    this_period = reports.containing(kind, dt.datetime.now(BJ).date())
    expect(page.locator("#report-title")).to_have_text(report_xlsx.title(this_period))

    pick_day(site, day)
    expect(page.locator("#report-title")).to_have_text(title)
    assert page_rows(site) == hand_counted(expected)
    site.shot(f"reports-{kind}")
    sheet = download(site)
    assert sheet["A1"].value == title
    assert [[shown(i, v) for i, v in enumerate(row)] for row in body(sheet)] == page_rows(site)
    assert sheet.print_area is not None and sheet.cell(HEADER_ROW + 1, 2).border.left.style == "thin"

    page.get_by_role("link", name="上一期").click()
    previous = reports.containing(kind, dt.date.fromisoformat(day)).previous()
    expect(page.locator("#report-title")).to_have_text(report_xlsx.title(previous))


def test_the_clerk_downloads_the_week_plan_the_page_shows(ledger: Site) -> None:
    site, page = ledger, ledger.page
    site.login("reporter")
    site.visit("/dashboard")
    page.get_by_role("link", name="本周周计划").click()
    pick_day(site, "2026-11-18")
    expect(page.locator("#report-title")).to_have_text("2026年第47周周计划表")
    rows = page_rows(site)
    listed = [(row[1], row[3], row[4]) for row in rows[:-1]]
    assert listed == [(UNITS[code], t, plan) for code, plans in WEEK_2026_W47.items() for t, plan, _ in plans]
    assert rows[-1][1:3] == ["合计", "3"]
    sheet = download(site)
    assert sheet["A1"].value == "2026年第47周周计划表"
    assert [[shown(i, v) for i, v in enumerate(row)] for row in body(sheet)] == [
        [*row[:6], row[6]] if row[1] != "合计" else [*row[:3], "—", "—", "—", "—"] for row in rows
    ]


def test_an_english_page_gives_an_english_workbook_of_one_unit(ledger: Site) -> None:
    site, page = ledger, ledger.page
    site.login("auditor")
    site.visit("/language/en?next=/reports/monthly")
    page.select_option("#f-unit", "works")
    pick_day(site, "2026-11-02", "Show")
    title = "Monthly summary, November 2026 (工务科)"
    expect(page.locator("#report-title")).to_have_text(title)
    expect(page.locator("#report thead")).to_contain_text("No progress")
    sheet = download(site)
    assert (sheet["A1"].value, sheet.cell(HEADER_ROW, 8).value) == (title, "No progress")
    labels = [v for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str) and v != "工务科"]
    assert [v for v in labels if re.search(r"[\u4e00-\u9fff]", v.replace("工务科", ""))] == []
    assert body(sheet)[-1][1] == "Total"


def test_who_may_not_read_reports_sees_no_link_and_is_refused(site: Site) -> None:
    page = site.page
    site.login("owner")
    site.visit("/dashboard")
    expect(page.get_by_role("link", name="本旬调度")).to_have_count(0)
    expect(page.locator("header nav")).not_to_contain_text("报表")
    for path in ("/reports", "/reports/week", "/reports/monthly.xlsx?period=2026-11"):
        response = page.request.get(site.url(path))  # the browser's own session; no navigation to log a 403
        assert (response.status, response.headers["content-type"]) == (403, "text/html; charset=utf-8")
        assert "只有填报人" in response.text()


def test_a_bad_date_is_named_beside_the_field(site: Site) -> None:
    page = site.page
    site.login("approver")
    site.visit("/reports/dispatch?day=2026-02-30&unit=nowhere")
    expect(page.locator(".field.invalid")).to_have_count(2)
    expect(page.locator("#f-day ~ .error")).to_have_text("日期应写作 年-月-日（1900–2999 年），如 2026-11-25")
    expect(page.locator("#f-unit ~ .error")).to_have_text("没有此单位")
    this_xun = reports.containing("dispatch", dt.datetime.now(BJ).date())
    expect(page.locator("#report-title")).to_have_text(report_xlsx.title(this_xun))
    site.visit("/reports/monthly?day=9999-12-31")
    expect(page.locator("#f-day ~ .error")).to_contain_text("1900–2999")
    refused = page.request.get(site.url("/reports/dispatch.xlsx?period=2026-11-4"))
    assert (refused.status, refused.headers["content-type"]) == (422, "text/html; charset=utf-8")
    assert "没有这一期：2026-11-4" in refused.text()


def test_an_english_dashboard_draws_english_labels(ledger: Site) -> None:
    site, page = ledger, ledger.page
    site.login("auditor")
    site.visit("/language/en?next=/dashboard")
    expect(page.locator("[data-chart][data-ready=true]")).to_have_count(4)
    drawn = {
        table: page.locator(f"[data-table={table}] svg text").all_text_contents()
        for table in ("t-units", "t-xun", "t-month", "t-ageing")
    }
    # A label may be wrapped over several lines (texts): each chart's text is read as one run.
    said = {table: re.sub(r"\s+", "", "".join(texts)) for table, texts in drawn.items()}
    # Only the units' own names are Chinese: axes, legends and periods follow the page.
    chinese = [run for texts in drawn.values() for text in texts for run in re.findall(r"[\u4e00-\u9fff]+", text)]
    assert all(any(run in name for name in UNITS.values()) for run in chinese), chinese
    assert all(name in said["t-units"] for name in UNITS.values())
    for label in ("Raised", "Closed", "Open, overdue", "1–7 days", "Over 90 days"):
        assert any(re.sub(r"\s+", "", label) in text for text in said.values()), (label, drawn)
    today = dt.datetime.now(BJ).date()
    for table, kind in (("t-xun", "dispatch"), ("t-month", "monthly")):
        periods = [reports.containing(kind, today)]
        while len(periods) < 6:
            periods.append(periods[-1].previous())
        labels = [period.label_en for period in reversed(periods)]
        assert page.locator(f"#{table} tbody th").all_text_contents() == labels
        # The chart names every period on its axis, a long one wrapped over lines.
        assert all(re.sub(r"\s+", "", label) in said[table] for label in labels), (labels, drawn[table])
