"""The rhythm reports as the office hands them in: one ``.xlsx`` workbook each (openpyxl).

On the first sheet, row 1 is the merged title naming the report, the period and the unit it is narrowed to
(``2026年11月中旬调度表（工务科）``), row 2 the dates, row 3 the header, then one row per unit and a
totals row. 旬调度 and 月总结 go on with further sheets of the same period and unit: the measures adopted
(月总结 only), the problems' sources (问题来源) and the lasting measures (长效机制). Every label is in one
language (``zh`` or ``en``, the page's), or in both, Chinese over English, when none is asked for (``None``:
the API without ``Accept-Language``). Ready to print: borders, wrapped text, frozen header, print area, the
header repeated on each page, landscape and one page wide. The figures are the report's own values, the same
as the JSON: a null closure rate, average or median is an empty cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from engine.intake.figures import IntakeReport, SourceFigures
from engine.measures.catalog import KIND_LABELS, STATUS_LABELS
from engine.measures.figures import LastingReport
from engine.measures.figures import Row as LastingRow
from engine.reports.reports import Figures, Period, Report, Unit, WeekPlan
from engine.store import xlsx
from engine.store.text import Label, say

TITLES = {
    "dispatch": ("{}调度表", "Dispatch report, {}"),
    "monthly": ("{}总结表", "Monthly summary, {}"),
    "week": ("{}周计划表", "Week plan, {}"),
}
DUE_NEXT = {"dispatch": ("下一旬到期", "Due next period"), "monthly": ("下月到期", "Due next period")}
FIGURE_COLUMNS = (
    (("期初在办", "Open at start"), 11),
    (("本期新增", "Raised"), 10),
    (("本期销号", "Closed"), 10),
    (("逾期", "Overdue"), 10),
    (None, 13),  # due next: named by the kind of report (DUE_NEXT)
    (("本期无进展", "No progress"), 12),
    (("销号率", "Closure rate"), 11),
    (("平均办结天数", "Avg days to close"), 15),
)
NUMBER = ("序号", "No.")
UNIT = ("责任单位", "Unit")
TOTAL = ("合计", "Total")
HEADER_ROW = 3
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FILL = PatternFill("solid", fgColor="D9E1F2")
_WRAP = Alignment(horizontal="center", vertical="center", wrap_text=True)


def period_label(period: Period, language: str | None) -> str:
    return period.label_en if language == "en" else period.label


def title(period: Period, unit: Unit | None = None, language: str | None = None) -> str:
    """``2026年11月中旬调度表（工务科）``, in English ``Dispatch report, November 2026, days 11–20 (工务科)``."""
    english = language == "en"
    named = TITLES[period.kind][english].format(period_label(period, language))
    if unit is None:
        return named
    return f"{named} ({unit.name})" if english else f"{named}（{unit.name}）"


def _span(period: Period, language: str | None) -> str:
    between = "to" if language == "en" else "至"
    return f"{period.start.isoformat()} {between} {period.end.isoformat()}"


def _subtitle(report: Report | WeekPlan, this: Label, following: Label, language: str | None) -> str:
    return (
        f"{say(this, language)}: {_span(report.period, language)}    "
        f"{say(following, language)}: {_span(report.next, language)}"
    )


def _sheet(
    report: Report | WeekPlan, subtitle: str, columns: Sequence[tuple[str, float]], language: str | None
) -> tuple[Workbook, Worksheet]:
    """A sheet with the merged title, the subtitle, the header row and the column widths, set up to print."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = period_label(report.period, language)[:31]
    last = get_column_letter(len(columns))
    for row, text, size in ((1, title(report.period, report.unit, language), 16), (2, subtitle, 11)):
        sheet.merge_cells(f"A{row}:{last}{row}")
        cell = xlsx.write(sheet, row, 1, text)
        cell.font = Font(bold=row == 1, size=size)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.row_dimensions[1].height = 30
    sheet.row_dimensions[HEADER_ROW].height = 36
    _header(sheet, HEADER_ROW, [header for header, _ in columns])
    _widths(sheet, [width for _, width in columns])
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    _print_setup(sheet, HEADER_ROW)
    return book, sheet


def _print_setup(sheet: Worksheet, header_row: int) -> None:
    """Landscape A4, one page wide, the header row repeated on each page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the rows need
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.print_title_rows = f"{header_row}:{header_row}"


def _header(sheet: Worksheet, row: int, texts: Sequence[str]) -> None:
    for number, text in enumerate(texts, start=1):
        cell = xlsx.write(sheet, row, number, text)
        cell.font, cell.fill, cell.border, cell.alignment = Font(bold=True), _FILL, _BORDER, _WRAP


def _widths(sheet: Worksheet, widths: Sequence[float]) -> None:
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width


def _rows(
    sheet: Worksheet, rows: Sequence[Sequence[Any]], formats: Sequence[str | None], header_row: int = HEADER_ROW
) -> int:
    """The body under the header, the last row the totals in bold; the print area ends with it (its row)."""
    fonts = {False: Font(), True: Font(bold=True)}
    aligned = {False: Alignment(vertical="center"), True: Alignment(vertical="center", wrap_text=True)}
    last = header_row + len(rows)
    for row, values in enumerate(rows, start=header_row + 1):
        for number, (value, number_format) in enumerate(zip(values, formats, strict=True), start=1):
            cell = xlsx.write(sheet, row, number, value)
            cell.border, cell.font, cell.alignment = _BORDER, fonts[row == last], aligned[isinstance(value, str)]
            if number_format:
                cell.number_format = number_format
    sheet.print_area = f"A1:{get_column_letter(len(formats))}{last}"
    return last


def _saved(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()


FIGURE_FORMATS = (None, None, "0", "0", "0", "0", "0", "0", "0.0%", "0.0")


def figure_values(figures: Figures) -> list[Any]:
    """A unit's (or the total's) figures in the columns' order, as the page and the workbook show them."""
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


def headers(kind: str, language: str | None) -> list[str]:
    """The column headers of a report of ``kind``, as the workbook and the page show them."""
    if kind == "week":
        return [say(label, language, "\n") for label, _ in WEEK_COLUMNS]
    figures = [say(label or DUE_NEXT[kind], language, "\n") for label, _ in FIGURE_COLUMNS]
    return [say(NUMBER, language, "\n"), say(UNIT, language, "\n"), *figures]


@dataclass(frozen=True)
class Companions:
    """The further sheets' figures of a 旬调度 or 月总结 workbook, gathered by the caller for the same period
    and unit (and reader) as the report: the same as the JSON of ``/reports/sources/…`` and ``/reports/lasting/…``."""

    sources: IntakeReport
    lasting: LastingReport


def figures_workbook(report: Report, companions: Companions, language: str | None = None) -> bytes:
    """旬调度表 or 月总结表: one row per unit, then the totals; then the sheets of the measures adopted (月总结),
    of the problems' sources and of the lasting measures."""
    widths = [6, 22, *(width for _, width in FIGURE_COLUMNS)]
    columns = list(zip(headers(report.period.kind, language), widths, strict=True))
    subtitle = _subtitle(report, ("统计时段", "Period"), ("下期", "Next"), language)
    book, sheet = _sheet(report, subtitle, columns, language)
    rows = [
        [n, unit.department.name if unit.department else "", *figure_values(unit)]
        for n, unit in enumerate(report.units, 1)
    ]
    _rows(sheet, [*rows, [None, say(TOTAL, language), *figure_values(report.total)]], FIGURE_FORMATS)
    if report.period.kind == "monthly":
        _measures_sheet(book, report, language)
    _sources_sheet(book, companions.sources, language)
    _lasting_sheet(book, companions.lasting, language)
    return _saved(book)


@dataclass(frozen=True)
class Table:
    """A table of a secondary sheet: its header, its rows in bordered cells, and a bold last row (the totals)."""

    header: Sequence[Label]
    rows: Sequence[Sequence[Any]]
    total: Sequence[Any]


def _secondary_sheet(
    book: Workbook,
    name: Label,
    widths: Sequence[float],
    formats: Sequence[str | None],
    tables: Sequence[Table],
    language: str | None,
) -> None:
    """A further sheet of the workbook: its tables one under the other, a blank row between, in the first sheet's
    look (header filled and wrapped, borders, number formats), set up to print as it is."""
    sheet = book.create_sheet(name[1] if language == "en" else name[0])
    _widths(sheet, widths)
    top = 1
    for table in tables:
        _header(sheet, top, [say(label, language, "\n") for label in table.header])
        top = _rows(sheet, [*table.rows, table.total], formats, top) + 2
    _print_setup(sheet, 1)


MEASURES_SHEET = ("制度性措施", "Measures")
MEASURE_COLUMNS = (
    (NUMBER, 6),
    (("措施名称", "Measure"), 40),
    (("种类", "Kind"), 10),
    (("牵头单位", "Owning unit"), 22),
    (("施行日期", "Adopted on"), 12),
    (("状态", "Status"), 10),
)


def _measures_sheet(book: Workbook, report: Report, language: str | None) -> None:
    """月总结's measures adopted in the month, by adoption date, then their count."""
    rows = [
        [
            n,
            measure.title,
            say(KIND_LABELS[measure.kind], language),
            measure.department.name,
            measure.adopted_on,
            say(STATUS_LABELS[measure.status], language),
        ]
        for n, measure in enumerate(report.adopted, start=1)
    ]
    total = [None, f"{say(TOTAL, language)}: {len(report.adopted)}", None, None, None, None]
    header = [label for label, _ in MEASURE_COLUMNS]
    widths = [width for _, width in MEASURE_COLUMNS]
    formats = (None, None, None, None, "yyyy-mm-dd", None)
    _secondary_sheet(book, MEASURES_SHEET, widths, formats, [Table(header, rows, total)], language)


SOURCES_SHEET = ("问题来源", "Sources")
SOURCE_COLUMNS = (
    (NUMBER, 6),
    (("问题来源", "Source"), 22),
    (("收到反映", "Raised"), 10),
    (("转为事项", "Became items"), 10),
    (("受理用时中位数（天）", "Median days to triage"), 14),
)


def _sources_sheet(book: Workbook, intake: IntakeReport, language: str | None) -> None:
    """Per 问题来源: the submissions raised in the period, how many became items, the median days to triage."""

    def values(f: SourceFigures) -> list[Any]:
        return [f.raised, f.became_items, f.median_days_to_triage]

    rows = [[n, f.source, *values(f)] for n, f in enumerate(intake.sources, start=1)]
    table = Table([label for label, _ in SOURCE_COLUMNS], rows, [None, say(TOTAL, language), *values(intake.total)])
    widths = [width for _, width in SOURCE_COLUMNS]
    _secondary_sheet(book, SOURCES_SHEET, widths, (None, None, "0", "0", "0.0"), [table], language)


LASTING_SHEET = ("长效机制", "Lasting measures")
LASTING_FIGURES = (
    (("销号且建立长效机制", "Closed with a lasting measure"), 16),
    (("销号未建立长效机制", "Closed without one"), 16),
    (("曾整改过（复发）", "Came back (recurring)"), 14),
)
BY_CATEGORY = ("问题类别", "Category")
NO_CATEGORY = ("未分类", "No category")


def _lasting_sheet(book: Workbook, lasting: LastingReport, language: str | None) -> None:
    """Items closed with and without a lasting measure and the recurring ones: per unit, then per category."""

    def values(row: LastingRow) -> list[Any]:
        return [row.closed_with, row.closed_without, row.recurring]

    def table(by: Label, rows: Sequence[LastingRow]) -> Table:
        body = [[n, row.name or say(NO_CATEGORY, language), *values(row)] for n, row in enumerate(rows, start=1)]
        header = [NUMBER, by, *(label for label, _ in LASTING_FIGURES)]
        return Table(header, body, [None, say(TOTAL, language), *values(lasting.total)])

    widths = [6, 22, *(width for _, width in LASTING_FIGURES)]
    tables = [table(UNIT, lasting.units), table(BY_CATEGORY, lasting.categories)]
    _secondary_sheet(book, LASTING_SHEET, widths, (None, None, "0", "0", "0"), tables, language)


WEEK_COLUMNS = (
    (NUMBER, 6),
    (UNIT, 22),
    (("事项编号", "Item"), 10),
    (("事项名称", "Title"), 36),
    (("下周计划", "Plan for next week"), 50),
    (("报送人", "Reported by"), 12),
    (("报送时间", "Reported at"), 18),
)


def week_workbook(report: WeekPlan, timezone: str, language: str | None = None) -> bytes:
    """周计划表: each unit's plans for the next week, one row per item, then the count."""
    columns = list(zip(headers("week", language), (width for _, width in WEEK_COLUMNS), strict=True))
    subtitle = _subtitle(report, ("本周", "Week"), ("下周", "Next week"), language)
    book, sheet = _sheet(report, subtitle, columns, language)
    office = ZoneInfo(timezone)
    plans = [(unit.department.name, plan) for unit in report.units for plan in unit.plans]
    rows: list[list[Any]] = [
        [n, unit, plan.item_id, plan.title, plan.plan, plan.actor_name, _local(plan.at, office)]
        for n, (unit, plan) in enumerate(plans, start=1)
    ]
    rows.append([None, say(TOTAL, language), report.total, None, None, None, None])
    _rows(sheet, rows, (None, None, "0", None, None, None, "yyyy-mm-dd hh:mm"))
    return _saved(book)


def _local(at: dt.datetime, office: ZoneInfo) -> dt.datetime:
    """Excel keeps no time zone: the office's wall-clock time."""
    return at.astimezone(office).replace(tzinfo=None)
