"""The report workbooks are ready to hand in: titled with period and unit, bordered, wrapped, set up to print."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from engine.intake import figures as intake
from engine.measures import figures as lasting
from engine.reports import report_xlsx, reports
from engine.reports.report_xlsx import HEADER_ROW

WORKS = reports.Unit("works", "工务科")
PERIOD = reports.parse("dispatch", "2026-11-2")
UNIT_FIGURES = reports.Figures(WORKS, 3.5, 0, 2, 1, 1, 0, 0)
DISPATCH = reports.Report(PERIOD, PERIOD.next(), [UNIT_FIGURES], UNIT_FIGURES + reports.Figures(), WORKS)
PUBLIC = intake.SourceFigures("=群众反映", 2, 1, None)
CLOSED = lasting.Row("工务科", "works", 1, 2, 1)
COMPANIONS = report_xlsx.Companions(
    intake.IntakeReport(PERIOD, WORKS, [PUBLIC], intake.SourceFigures("", 2, 1, None)),
    lasting.LastingReport([CLOSED], [lasting.Row("", "", 1, 2, 1)], lasting.Row("", "", 1, 2, 1), [], "bigrams"),
)
WEEK = reports.WeekPlan(
    reports.parse("week", "2026-W47"),
    reports.parse("week", "2026-W48"),
    [
        reports.UnitPlans(
            WORKS,
            [
                reports.Plan(
                    7, "排水沟" * 30, "下周完成" * 20, dt.datetime(2026, 11, 20, 15, 50, tzinfo=dt.UTC), "w", "王"
                )
            ],
        )
    ],
    1,
    WORKS,
)


def sheet_of(content: bytes) -> Worksheet:
    sheet = load_workbook(BytesIO(content)).active
    assert isinstance(sheet, Worksheet)
    return sheet


@pytest.mark.parametrize(
    ("language", "title", "header", "total"),
    [
        ("zh", "2026年11月中旬调度表（工务科）", "期初在办", "合计"),
        ("en", "Dispatch report, November 2026, days 11–20 (工务科)", "Open at start", "Total"),
        (None, "2026年11月中旬调度表（工务科）", "期初在办\nOpen at start", "合计 Total"),
    ],
)
def test_the_figures_workbook_is_ready_to_print_in_one_language(
    language: str | None, title: str, header: str, total: str
) -> None:
    sheet = sheet_of(report_xlsx.figures_workbook(DISPATCH, COMPANIONS, language))
    assert sheet["A1"].value == title
    assert sheet.cell(HEADER_ROW, 3).value == header
    last_row = HEADER_ROW + 2  # one unit and the totals
    assert [sheet.cell(last_row, n).value for n in (2, 4, 5)] == [total, 2, 1]
    assert sheet.print_area == f"'{sheet.title}'!$A$1:$J${last_row}"
    assert sheet.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
    assert sheet.freeze_panes == f"A{HEADER_ROW + 1}"
    setup = sheet.page_setup
    assert (setup.orientation, setup.fitToWidth, sheet.sheet_properties.pageSetUpPr.fitToPage) == ("landscape", 1, True)
    body = [sheet.cell(row, column) for row in range(HEADER_ROW, last_row + 1) for column in range(1, 11)]
    assert all(cell.border.left.style == cell.border.bottom.style == "thin" for cell in body)
    assert all(sheet.cell(HEADER_ROW, n).alignment.wrap_text for n in range(1, 11))
    texts = [str(cell.value) for cell in body if isinstance(cell.value, str)]
    chinese = [text for text in texts if any("\u4e00" <= ch <= "\u9fff" for ch in text) and text != "工务科"]
    assert (chinese == []) == (language == "en")


@pytest.mark.parametrize(
    ("language", "names", "header", "total", "none"),
    [
        ("zh", ["问题来源", "长效机制"], "销号且建立长效机制", "合计", "未分类"),
        ("en", ["Sources", "Lasting measures"], "Closed with a lasting measure", "Total", "No category"),
        (
            None,
            ["问题来源", "长效机制"],
            "销号且建立长效机制\nClosed with a lasting measure",
            "合计 Total",
            "未分类 No category",
        ),
    ],
)
def test_the_sources_and_lasting_sheets_print_like_the_first(
    language: str | None, names: list[str], header: str, total: str, none: str
) -> None:
    book = load_workbook(BytesIO(report_xlsx.figures_workbook(DISPATCH, COMPANIONS, language)))
    assert book.sheetnames[1:] == names
    sources, measures = book[names[0]], book[names[1]]
    assert [[cell.value for cell in row] for row in sources.iter_rows(min_row=2)] == [
        [1, "=群众反映", 2, 1, None],
        [None, total, 2, 1, None],
    ]
    assert sources["B2"].data_type == "s" and sources["B2"].quotePrefix  # a source's name is text, never a formula
    assert (sources["C2"].number_format, sources["E2"].number_format) == ("0", "0.0")
    assert measures["C1"].value == measures["C5"].value == header
    assert [measures.cell(row, 2).value for row in (2, 3, 6, 7)] == ["工务科", total, none, total]
    assert [measures.cell(7, column).value for column in (3, 4, 5)] == [1, 2, 1]
    for sheet, last in ((sources, "E3"), (measures, "E7")):
        assert sheet.print_area == f"'{sheet.title}'!$A$1:${last[0]}${last[1:]}"
        assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$1:$1"
        assert sheet["A1"].fill.fgColor.rgb.endswith("D9E1F2") and sheet["A1"].alignment.wrap_text
        assert sheet[last].font.bold and sheet[last].border.left.style == "thin" and not sheet["A2"].font.bold


def test_the_week_workbook_wraps_long_text_and_prints_its_rows(subtests: pytest.Subtests) -> None:
    sheet = sheet_of(report_xlsx.week_workbook(WEEK, "Asia/Shanghai", "en"))
    assert sheet["A1"].value == "Week plan, week 47 of 2026 (工务科)"
    assert sheet["A2"].value == "Week: 2026-11-16 to 2026-11-22    Next week: 2026-11-23 to 2026-11-29"
    assert [sheet.cell(HEADER_ROW, n).value for n in (4, 5)] == ["Title", "Plan for next week"]
    assert sheet.print_area == f"'{sheet.title}'!$A$1:$G${HEADER_ROW + 2}"
    for column in ("D", "E"):
        with subtests.test(column=column):
            cell = sheet[f"{column}{HEADER_ROW + 1}"]
            assert cell.alignment.wrap_text and len(str(cell.value)) > sheet.column_dimensions[column].width
    assert sheet[f"G{HEADER_ROW + 1}"].value == dt.datetime(2026, 11, 20, 23, 50)
