"""The rhythm reports as the office hands them in: one ``.xlsx`` sheet each (openpyxl).

Row 1 is the merged title (``2026年11月中旬调度表``), row 2 the dates, row 3 the header (Chinese
over English), then one row per unit and a totals row. The figures are the report's own values,
the same as the JSON: a null closure rate or average is an empty cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from engine.reports.reports import Figures, Period, Report, WeekPlan
from engine.store import xlsx

TITLES = {"dispatch": "{}调度表", "monthly": "{}总结表", "week": "{}周计划表"}
DUE_NEXT = {"dispatch": "下一旬到期", "monthly": "下月到期"}
HEADER_ROW = 3
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FILL = PatternFill("solid", fgColor="D9E1F2")
_WRAP = Alignment(horizontal="center", vertical="center", wrap_text=True)


def title(period: Period) -> str:
    return TITLES[period.kind].format(period.label)


def _span(period: Period) -> str:
    return f"{period.start.isoformat()} 至 {period.end.isoformat()}"


def _sheet(period: Period, subtitle: str, columns: Sequence[tuple[str, float]]) -> tuple[Workbook, Worksheet]:
    """A sheet with the merged title, the subtitle, the header row and the column widths."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = period.label[:31]
    last = get_column_letter(len(columns))
    for row, text, size in ((1, title(period), 16), (2, subtitle, 11)):
        sheet.merge_cells(f"A{row}:{last}{row}")
        cell = xlsx.write(sheet, row, 1, text)
        cell.font = Font(bold=row == 1, size=size)
        cell.alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 30
    sheet.row_dimensions[HEADER_ROW].height = 36
    for number, (header, width) in enumerate(columns, start=1):
        cell = xlsx.write(sheet, HEADER_ROW, number, header)
        cell.font, cell.fill, cell.border, cell.alignment = Font(bold=True), _FILL, _BORDER, _WRAP
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    return book, sheet


def _rows(sheet: Worksheet, rows: Sequence[Sequence[Any]], formats: Sequence[str | None]) -> None:
    """The body under the header; the last row is the totals, in bold."""
    fonts = {False: Font(), True: Font(bold=True)}
    aligned = {False: Alignment(vertical="center"), True: Alignment(vertical="center", wrap_text=True)}
    for row, values in enumerate(rows, start=HEADER_ROW + 1):
        total = row == HEADER_ROW + len(rows)
        for number, (value, number_format) in enumerate(zip(values, formats, strict=True), start=1):
            cell = xlsx.write(sheet, row, number, value)
            cell.border, cell.font, cell.alignment = _BORDER, fonts[total], aligned[isinstance(value, str)]
            if number_format:
                cell.number_format = number_format


def _saved(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()


FIGURE_FORMATS = (None, None, "0", "0", "0", "0", "0", "0", "0.0%", "0.0")


def _figures(figures: Figures) -> list[Any]:
    return [
        figures.open_at_start,
        figures.raised,
        figures.closed,
        figures.overdue,
        figures.due_next,
        figures.no_progress,
        figures.closure_rate,
        figures.avg_days_to_close,
    ]


def figures_workbook(report: Report) -> bytes:
    """旬调度表 or 月总结表: one row per unit, then the totals."""
    columns = [
        ("序号\nNo.", 6),
        ("责任单位\nUnit", 22),
        ("期初在办\nOpen at start", 11),
        ("本期新增\nRaised", 10),
        ("本期销号\nClosed", 10),
        ("逾期\nOverdue", 10),
        (f"{DUE_NEXT[report.period.kind]}\nDue next period", 13),
        ("本期无进展\nNo progress", 12),
        ("销号率\nClosure rate", 11),
        ("平均办结天数\nAvg days to close", 15),
    ]
    subtitle = f"统计时段 Period: {_span(report.period)}    下期 Next: {_span(report.next)}"
    book, sheet = _sheet(report.period, subtitle, columns)
    rows = [
        [n, unit.department.name if unit.department else "", *_figures(unit)] for n, unit in enumerate(report.units, 1)
    ]
    _rows(sheet, [*rows, [None, "合计 Total", *_figures(report.total)]], FIGURE_FORMATS)
    return _saved(book)


def week_workbook(report: WeekPlan, timezone: str) -> bytes:
    """周计划表: each unit's plans for the next week, one row per item, then the count."""
    columns = [
        ("序号\nNo.", 6),
        ("责任单位\nUnit", 22),
        ("事项编号\nItem", 10),
        ("事项名称\nTitle", 36),
        ("下周计划\nPlan for next week", 50),
        ("报送人\nReported by", 12),
        ("报送时间\nReported at", 18),
    ]
    subtitle = f"本周 Week: {_span(report.period)}    下周 Next week: {_span(report.next)}"
    book, sheet = _sheet(report.period, subtitle, columns)
    office = ZoneInfo(timezone)
    plans = [(unit.department.name, plan) for unit in report.units for plan in unit.plans]
    rows: list[list[Any]] = [
        [n, unit, plan.item_id, plan.title, plan.plan, plan.actor_name, _local(plan.at, office)]
        for n, (unit, plan) in enumerate(plans, start=1)
    ]
    rows.append([None, "合计 Total", report.total, None, None, None, None])
    _rows(sheet, rows, (None, None, "0", None, None, None, "yyyy-mm-dd hh:mm"))
    return _saved(book)


def _local(at: dt.datetime, office: ZoneInfo) -> dt.datetime:
    """Excel keeps no time zone: the office's wall-clock time."""
    return at.astimezone(office).replace(tzinfo=None)
