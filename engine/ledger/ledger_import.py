"""Read problem-list ledgers (问题清单台账) from Excel workbooks.

A pure reader: no database, no web framework. :func:`read_ledger` finds the header row, maps the
columns by name (with synonyms) and returns a :class:`LedgerPreview` of readable rows, row-level
errors and skipped rows, so a caller can show a preview before importing anything.

An upload is hostile until shown otherwise: a few KB of zip can expand to gigabytes of XML or
millions of empty rows. So the zip's central directory is checked against :class:`ImportLimits`
before openpyxl opens it, at most ``max_rows`` rows and :data:`MAX_COLUMNS` columns are read, and
runs of blank rows are counted, never listed.
"""

from __future__ import annotations

import datetime
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any, BinaryIO

from openpyxl import load_workbook

from engine.store import severity
from engine.store.config import ImportLimits

HEADER_SCAN_ROWS = 20
"""How many rows at the top of each sheet are searched for the header row."""
MAX_COLUMNS = 100
"""Columns read per row: a ledger has about a dozen, and one cell at column XFD must not make every row 16,384 wide."""
MAX_PARTS = 1000
"""Files in the workbook's zip; a real workbook has a few dozen."""
RATIO_FLOOR = 1024 * 1024
"""Parts smaller than this (uncompressed) cannot hurt, whatever their compression ratio."""
STRINGS_PER_ROW = 20
"""Shared strings allowed per row of ``max_rows``: openpyxl loads every one (tens of µs each) before a row is read."""
_STRING = re.compile(rb"<(?:\w{1,8}:)?si[\s/>]")

_COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("编号",),
    "registered": ("登记日期", "发现日期", "登记时间"),
    "title": ("问题描述", "存在问题", "问题表现", "问题", "问题内容"),
    "source": ("问题来源", "来源"),
    "category": ("问题类别", "类别", "问题类型"),
    "severity": ("严重程度", "严重性"),
    "measures": ("整改措施", "措施"),
    "department": ("责任单位", "牵头单位", "责任部门", "牵头部门"),
    "co_departments": ("配合单位", "协办单位", "配合部门"),
    "owner": ("责任人", "整改责任人"),
    "deadline": ("整改时限", "完成时限", "整改期限", "时限"),
    "progress": ("整改进度", "进度", "完成情况"),
    "remarks": ("备注",),
}
_SYNONYMS = {name: key for key, names in _COLUMNS.items() for name in names}
_REQUIRED = {"title": "问题描述", "department": "责任单位"}

_ONGOING = re.compile(r"^(长期|持续|常态)")
_CN_DATE = re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?(之?前)?$")
_SEP_DATE = re.compile(r"^(?P<y>\d{4})(?P<sep>[./-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(之?前)?$")
# Lines under a table: signatures, contacts, totals and notes ("填报单位(盖章):", "合计", "备注:本表…").
_FOOTER = re.compile(
    r"^(填报人|填表人|制表人|审核人|审批人|联系人|联系电话|填报单位|填报日期|制表日期|合计|小计|总计|共计|备注|注|说明)"
    r"\d*([:(]|$)"
)
DATE_FORMS = "2026-03-01、2026/3/1、2026.3.1、2026年3月1日、Excel 日期"
"""The date forms a ledger may use, as shown to a person whose date was not read."""
_UNIT_SEPARATORS = re.compile(r"[、，,;；\s]+")

Row = tuple[object, ...]


@dataclass(frozen=True)
class LedgerRow:
    """One readable ledger item; ``department`` and ``co_departments`` are resolved codes.

    ``number`` is the 编号 of an item this system exported (None: a new item); ``registered`` its 登记日期.
    """

    row: int
    title: str
    source: str | None
    category: str | None
    measures: str | None
    department: str
    co_departments: list[str]
    owner_name: str | None
    deadline: datetime.date | None
    ongoing: bool
    progress: str | None
    remarks: str | None
    number: int | None = None
    registered: datetime.date | None = None
    # 严重程度; None when the sheet has no such column or the cell is empty (一般 for a new item).
    severity: str | None = None


@dataclass(frozen=True)
class RowError:
    """A problem with one cell; ``column`` is the header text as found in the sheet.

    ``value`` is the cell's text as found and ``accepted`` says what the cell may hold, so that
    a person can correct every cell of a row from one preview.
    """

    row: int
    column: str
    message: str
    value: str | None = None
    accepted: str | None = None


@dataclass(frozen=True)
class Problem:
    """A row check's finding, before it is tied to its row and column."""

    key: str
    message: str
    value: str | None = None
    accepted: str | None = None


RowCheck = Callable[[LedgerRow], list[Problem]]
"""A further check of a readable row (the caller's vocabulary: sources, people, limits)."""


@dataclass(frozen=True)
class Vocabulary:
    """What the caller knows beyond the unit resolver: the unit names to suggest, and its own row checks."""

    units: str = ""
    check: RowCheck | None = None


@dataclass(frozen=True)
class SkippedRow:
    """Rows that are not items: ``reason`` is "empty", "footer" or "heading"; ``count`` rows from ``row`` on."""

    row: int
    reason: str
    count: int = 1


@dataclass
class LedgerPreview:
    """Everything read from a ledger; rows with any error are only in ``errors``."""

    rows: list[LedgerRow]
    errors: list[RowError]
    skipped: list[SkippedRow]


class LedgerFormatError(Exception):
    """The file is not a readable ledger (not .xlsx, no header row, a required column missing, too many rows)."""


class LedgerTooLarge(LedgerFormatError):
    """The file, or what it expands to, is over one of the :class:`ImportLimits`."""


@dataclass
class _Table:
    """The located table: its sheet, header row, field key -> column index, and the numbered data rows."""

    sheet: str
    header: Row
    columns: dict[str, int]
    rows: Iterator[tuple[int, Row]]

    def name(self, key: str) -> str:
        """The header text of a field's column, as found in the sheet."""
        return _text(self.header[self.columns[key]]) or key

    def value(self, values: Row, key: str) -> object:
        index = self.columns.get(key)
        return values[index] if index is not None and index < len(values) else None

    def text(self, values: Row, key: str) -> str | None:
        return _text(self.value(values, key))


def _text(value: object) -> str | None:
    """Cell value as stripped text; None for empty cells (``1.0`` becomes ``"1"``)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def _compact(text: str) -> str:
    """Full-width to half-width (NFKC) and all whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_deadline(value: object) -> tuple[datetime.date | None, bool]:
    """Read a 整改时限 cell as ``(date, ongoing)``.

    Accepts date/datetime cells and the strings 'YYYY年M月D日', 'YYYY.M.D', 'YYYY-MM-DD' and 'YYYY/M/D'
    (an optional trailing 前/之前 is ignored). '长期坚持', '长期', '持续推进', '常态化' and similar give
    ``(None, True)``; an empty cell gives ``(None, False)``. Raises ValueError for anything else,
    including impossible calendar dates such as 2026年2月30日.
    """
    if isinstance(value, datetime.datetime):
        return value.date(), False
    if isinstance(value, datetime.date):
        return value, False
    text = _text(value)
    if text is None:
        return None, False
    compact = _compact(text) if isinstance(value, str) else ""
    if _ONGOING.match(compact):
        return None, True
    match = _CN_DATE.match(compact) or _SEP_DATE.match(compact)
    if match is None:
        raise ValueError(f"无法识别的整改时限 Unreadable deadline: {text!r}")
    try:
        return datetime.date(int(match["y"]), int(match["m"]), int(match["d"])), False
    except ValueError:
        raise ValueError(f"无效日期 Invalid date: {text!r}") from None


def _match_header(values: Row) -> dict[str, int]:
    """Known columns in a row: field key -> index of its first column."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(values):
        text = _text(cell)
        key = _SYNONYMS.get(_compact(text).rstrip(":")) if text else None
        if key is not None:
            columns.setdefault(key, index)
    return columns


def _locate_table(workbook: Any, max_rows: int) -> _Table:
    """The first sheet whose header row has the title and responsible-unit columns."""
    missing_message = None
    for sheet in workbook.worksheets:
        claimed = sheet.max_row  # from the sheet's <dimension>, before anything is read
        sheet.reset_dimensions()  # some writers store wrong dimensions; read what is really there
        # One row past the cap, so that a sheet going on beyond it is noticed (and refused), not cut short.
        cells = sheet.iter_rows(max_row=max_rows + 1, max_col=MAX_COLUMNS, values_only=True)
        rows: Iterator[tuple[int, Row]] = enumerate(cells, start=1)
        head = list(islice(rows, HEADER_SCAN_ROWS))
        # the header is the first row matching the most known column names
        number, header = max(head, key=lambda item: len(_match_header(item[1])), default=(0, ()))
        columns = _match_header(header)
        if all(key in columns for key in _REQUIRED):
            if claimed is not None and claimed > max_rows:
                cells.close()
                raise _too_many_rows(sheet.title, max_rows, f"its dimension claims {claimed}")
            return _Table(sheet.title, header, columns, chain((item for item in head if item[0] > number), rows))
        cells.close()
        if len(columns) >= 2 and missing_message is None:
            missing = "、".join(label for key, label in _REQUIRED.items() if key not in columns)
            missing_message = (
                f"缺少必需列 Missing required column: {missing} (sheet {sheet.title!r}, header row {number})"
            )
    raise LedgerFormatError(
        missing_message or "未找到表头行 No header row found: expected columns such as 问题描述 and 责任单位"
    )


def _too_many_rows(sheet: str, max_rows: int, found: str) -> LedgerFormatError:
    return LedgerFormatError(
        f"工作表 {sheet!r} 超过 {max_rows} 行 Sheet {sheet!r} has more than {max_rows} rows ({found}); "
        f"the limit is RECTIFLOW_IMPORT_MAX_ROWS"
    )


def _skip_reason(values: Row, table: _Table, started: bool) -> str | None:
    """Why a row is not an item ("empty", "footer", "heading"), or None if it should be read."""
    filled = [value for value in values if _text(value) is not None]
    if not filled:
        return "empty"
    first = filled[0]
    if isinstance(first, str) and _FOOTER.match(_compact(first)):
        return "footer"
    if table.text(values, "title") or table.text(values, "department"):
        return None
    if len(filled) == 1 and isinstance(first, str):
        return "footer" if started else "heading"
    if all(table.text(values, key) is None for key in table.columns):
        return "empty"  # e.g. only a pre-filled 序号
    return None


def _resolve_units(
    names: Iterable[str], key: str, resolve: Callable[[str], str | None], problems: list[Problem], accepted: str
) -> list[str]:
    """Codes for the non-empty unit names (without repeats); unknown names are added to ``problems``."""
    codes: list[str] = []
    for name in filter(None, names):
        code = resolve(name)
        if not code:
            problems.append(Problem(key, f"未知单位 Unknown unit: {name!r}", name, accepted or None))
        elif code not in codes:
            codes.append(code)
    return codes


def _date_cell(table: _Table, values: Row, key: str, problems: list[Problem]) -> tuple[datetime.date | None, bool]:
    value = table.value(values, key)
    try:
        found, ongoing = parse_deadline(value)
    except ValueError as exc:
        problems.append(Problem(key, str(exc), _text(value), DATE_FORMS + ("、长期坚持" if key == "deadline" else "")))
        return None, False
    if ongoing and key != "deadline":
        problems.append(Problem(key, f"无效日期 Invalid date: {_text(value)!r}", _text(value), DATE_FORMS))
        return None, False
    return found, ongoing


def _number(table: _Table, values: Row, problems: list[Problem]) -> int | None:
    text = table.text(values, "number")
    if text is None or text.isdigit():
        return int(text) if text else None
    message = f"无法识别的编号 Unreadable 编号: {text!r}"
    problems.append(Problem("number", message, text, "留空（新登记），或本系统导出台账中的编号"))
    return None


def _severity(table: _Table, values: Row, problems: list[Problem]) -> str | None:
    text = table.text(values, "severity")
    if text is None or text in severity.SEVERITIES:
        return text
    message = f"无法识别的严重程度 Unknown severity: {text!r}"
    problems.append(Problem("severity", message, text, "、".join(severity.SEVERITIES)))
    return None


def _parse_row(
    number: int, values: Row, table: _Table, resolve: Callable[[str], str | None], vocabulary: Vocabulary
) -> LedgerRow | list[RowError]:
    """The item in one data row, or every error that keeps it from being read (all of them, at once)."""
    problems: list[Problem] = []
    title = table.text(values, "title")
    if title is None:
        problems.append(Problem("title", "问题描述为空 Empty problem description", None, "问题的文字描述"))
    department = table.text(values, "department")
    if department is None:
        problems.append(Problem("department", "责任单位为空 Empty responsible unit", None, vocabulary.units or None))
    departments = _resolve_units([department or ""], "department", resolve, problems, vocabulary.units)
    co_names = _UNIT_SEPARATORS.split(table.text(values, "co_departments") or "")
    co_departments = _resolve_units(co_names, "co_departments", resolve, problems, vocabulary.units)
    deadline, ongoing = _date_cell(table, values, "deadline", problems)
    registered, _ = _date_cell(table, values, "registered", problems)
    row = LedgerRow(
        row=number,
        title=title or "",
        source=table.text(values, "source"),
        category=table.text(values, "category"),
        measures=table.text(values, "measures"),
        department=departments[0] if departments else "",
        co_departments=co_departments,
        owner_name=table.text(values, "owner"),
        deadline=deadline,
        ongoing=ongoing,
        progress=table.text(values, "progress"),
        remarks=table.text(values, "remarks"),
        number=_number(table, values, problems),
        registered=registered,
        severity=_severity(table, values, problems),
    )
    if vocabulary.check is not None:
        problems.extend(vocabulary.check(row))
    if problems:
        return [RowError(number, table.name(p.key), p.message, p.value, p.accepted) for p in problems]
    return row


def _read_rows(
    table: _Table, resolve: Callable[[str], str | None], max_rows: int, vocabulary: Vocabulary
) -> LedgerPreview:
    preview = LedgerPreview(rows=[], errors=[], skipped=[])
    blanks: SkippedRow | None = None  # a run of blank rows, reported only if something follows it
    started = ended = False
    for number, values in table.rows:
        if number > max_rows:
            raise _too_many_rows(table.sheet, max_rows, f"row {number} was reached")
        reason = _skip_reason(values, table, started)
        if reason == "empty":
            blanks = SkippedRow(blanks.row, reason, blanks.count + 1) if blanks else SkippedRow(number, reason)
            continue
        if blanks is not None:
            preview.skipped.append(blanks)
            blanks = None
        # Once the table has ended (a signature, a total, a note), what follows belongs to the footer too.
        ended = ended or (started and reason == "footer")
        if reason is not None or ended:
            preview.skipped.append(SkippedRow(number, "footer" if ended else reason or "footer"))
            continue
        started = True
        item = _parse_row(number, values, table, resolve, vocabulary)
        if isinstance(item, LedgerRow):
            preview.rows.append(item)
        else:
            preview.errors.extend(item)
    return preview


def _too_large(what: str, size: int, limit: int, setting: str) -> LedgerTooLarge:
    return LedgerTooLarge(f"文件过大 Too large: {what} is {size:,} bytes, over the limit of {limit:,} ({setting})")


def check_archive(source: BinaryIO, limits: ImportLimits) -> None:
    """Refuse a workbook over the limits from its zip central directory alone, before it is decompressed.

    The sizes checked are the declared ones; a part that decompresses to more than it declares is cut
    at the declared size by ``zipfile`` (and then fails its checksum), so declared sizes do bound the work.
    """
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    if size > limits.max_bytes:
        raise _too_large("the file", size, limits.max_bytes, "RECTIFLOW_IMPORT_MAX_BYTES")
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise LedgerFormatError(f"不是有效的 Excel (.xlsx) 文件 Not a readable .xlsx file: {exc}") from exc
    if len(parts) > MAX_PARTS:
        raise LedgerTooLarge(f"文件过大 Too large: the workbook holds {len(parts)} files, over the limit {MAX_PARTS}")
    for part in parts:
        if part.file_size > limits.max_member_bytes:
            setting = "RECTIFLOW_IMPORT_MAX_MEMBER_BYTES"
            raise _too_large(part.filename, part.file_size, limits.max_member_bytes, setting)
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_FLOOR and ratio > limits.max_ratio:
            raise LedgerTooLarge(
                f"文件过大 Too large: {part.filename} expands {ratio:.0f} times, over the limit of "
                f"{limits.max_ratio} (RECTIFLOW_IMPORT_MAX_RATIO)"
            )
    total = sum(part.file_size for part in parts)
    if total > limits.max_total_bytes:
        raise _too_large("the workbook uncompressed", total, limits.max_total_bytes, "RECTIFLOW_IMPORT_MAX_TOTAL_BYTES")
    _check_strings(source, parts, limits.max_rows * STRINGS_PER_ROW)
    source.seek(0)


def _check_strings(source: BinaryIO, parts: list[zipfile.ZipInfo], most: int) -> None:
    """Refuse a shared-string table with more strings than the rows read could use (counted, not parsed)."""
    table = next((part for part in parts if part.filename.lower().endswith("sharedstrings.xml")), None)
    if table is None:
        return
    found, tail = 0, b""
    with zipfile.ZipFile(source) as archive, archive.open(table) as stream:
        while chunk := stream.read(1024 * 1024):
            # A tag cut by the chunk boundary is found in tail + chunk; one wholly in the tail was counted already.
            window = tail + chunk
            found += len(_STRING.findall(window)) - len(_STRING.findall(tail))
            tail = window[-16:]
            if found > most:
                raise LedgerTooLarge(
                    f"文件过大 Too large: the workbook holds more than {most:,} distinct texts, more than "
                    f"{STRINGS_PER_ROW} per row of RECTIFLOW_IMPORT_MAX_ROWS"
                )


def read_ledger(
    source: str | os.PathLike[str] | BinaryIO,
    resolve_department: Callable[[str], str | None],
    limits: ImportLimits | None = None,
    vocabulary: Vocabulary | None = None,
) -> LedgerPreview:
    """Read a ledger workbook (path or seekable binary file object) into a preview.

    ``resolve_department`` maps a unit name as written (e.g. '组织科') to a department code, or
    None if unknown; ``vocabulary`` adds the caller's own row checks. Every error of a row is listed.
    Blank rows after the last non-blank row are ignored silently. Raises
    LedgerTooLarge if the file is over ``limits`` (checked before it is parsed), LedgerFormatError
    if it is not an .xlsx workbook, has no usable header row, or goes on beyond ``limits.max_rows``.
    """
    limits = limits or ImportLimits()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return read_ledger(handle, resolve_department, limits, vocabulary)
    check_archive(source, limits)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, KeyError, XML errors...
        raise LedgerFormatError(f"不是有效的 Excel (.xlsx) 文件 Not a readable .xlsx file: {exc}") from exc
    try:
        return _read_rows(
            _locate_table(workbook, limits.max_rows), resolve_department, limits.max_rows, vocabulary or Vocabulary()
        )
    except LedgerFormatError:
        raise
    except Exception as exc:  # a sheet's XML broken or cut short, a part failing its checksum...
        raise LedgerFormatError(f"不是有效的 Excel (.xlsx) 文件 Not a readable .xlsx file: {exc}") from exc
    finally:
        workbook.close()
