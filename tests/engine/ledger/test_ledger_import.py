"""Tests for engine.ledger.ledger_import: the sample ledger plus small workbooks built with openpyxl."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from openpyxl import Workbook

from engine.ledger.ledger_import import (
    DATE_FORMS,
    LedgerFormatError,
    LedgerPreview,
    RowError,
    SkippedRow,
    parse_deadline,
    read_ledger,
)

SAMPLE = Path(__file__).resolve().parents[3] / "demo" / "problem-list-sample.xlsx"

UNITS = {
    "办公室": "office",
    "干部教育科": "cadre-edu",
    "组织科": "org",
    "人才办": "talent",
    "干部科": "cadre",
    "老干部科": "retired",
    "干部监督科": "supervision",
    "基层办": "grassroots",
    "公务员科": "civil-service",
    "市公安局出入境管理支队": "exit-entry",
}

HEADER = [
    "序号", "问题描述", "问题来源", "问题类别", "整改措施", "责任单位",
    "配合单位", "责任人", "整改时限", "整改进度", "备注",
]  # fmt: skip


def resolve(name: str) -> str | None:
    return UNITS.get(name)


def write_workbook(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """Save a workbook with the given sheets (in order), each a list of rows."""
    workbook = Workbook()
    for index, (title, rows) in enumerate(sheets.items()):
        sheet = workbook.worksheets[0] if index == 0 else workbook.create_sheet()
        sheet.title = title
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def item(
    number: int | None, title: str, unit: str, co_units: str | None = None, deadline: object = None
) -> list[object]:
    """A data row in the standard (sample) column order."""
    return [number, title, "自查", "作风建设", "整改", unit, co_units, "张三", deadline, "未开始", None]


def simple_ledger(tmp_path: Path, *rows: list[object]) -> LedgerPreview:
    path = write_workbook(tmp_path / "ledger.xlsx", {"问题清单": [["台账"], HEADER, *rows]})
    return read_ledger(path, resolve)


# --- the sample ledger -------------------------------------------------------------------------


def test_sample_reads_all_forty_items() -> None:
    preview = read_ledger(SAMPLE, resolve)

    assert len(preview.rows) == 40
    assert preview.errors == []
    assert preview.skipped == []
    assert [r.row for r in preview.rows] == list(range(3, 43))


def test_sample_values() -> None:
    rows = {r.row: r for r in read_ledger(SAMPLE, resolve).rows}

    first = rows[3]  # item 1: an Excel datetime cell
    assert first.title == "理论学习中心组学习计划执行不到位，部分专题学习未按期开展"
    assert (first.source, first.category, first.owner_name, first.progress) == ("自查", "理论学习", "张伟", "未开始")
    assert first.measures == "制定年度专题学习计划，实行月调度、季通报"
    assert first.department == "office"
    assert first.co_departments == []
    assert (first.deadline, first.ongoing) == (datetime.date(2026, 12, 31), False)
    assert first.remarks is None

    assert rows[4].deadline == datetime.date(2026, 12, 16)  # '2026年12月16日'
    assert rows[5].deadline == datetime.date(2026, 12, 1)  # '2026.12.1'
    assert rows[6].deadline == datetime.date(2026, 11, 16)  # '2026-11-16'
    assert (rows[10].deadline, rows[10].ongoing) == (None, True)  # '长期坚持'

    third = rows[5]  # item 3: 组织科, co-units '市公安局出入境管理支队、干部教育科'
    assert third.department == "org"
    assert third.co_departments == ["exit-entry", "cadre-edu"]
    assert third.progress == "已完成"


def test_sample_from_binary_file_object() -> None:
    with SAMPLE.open("rb") as handle:
        from_handle = read_ledger(handle, resolve)
    from_bytes = read_ledger(io.BytesIO(SAMPLE.read_bytes()), resolve)

    assert from_handle == from_bytes == read_ledger(str(SAMPLE), resolve)


# --- layout variations ---------------------------------------------------------------------------


def test_column_order_synonyms_extra_sheet_and_title_rows(tmp_path: Path) -> None:
    header = [
        "牵头部门", "存在问题", "整改\n时限", "协办单位", "整改责任人",
        "完成情况", "措施", "问题类型", "来源：", "备　注",
    ]  # fmt: skip
    path = write_workbook(
        tmp_path / "variant.xlsx",
        {
            "填表说明": [["请按模板填写"], ["责任单位填写全称"]],
            "台账": [
                ["2026年度检视问题整改台账"],
                ["填报单位：市委组织部", None, None, "日期：2026年1月5日"],
                header,
                [
                    "组织科",
                    "问题甲",
                    "2026/3/5",
                    "办公室， 人才办;基层办",
                    "李四",
                    "正在整改",
                    "措施甲",
                    "类型甲",
                    "巡察",
                    "无",
                ],
                ["人才办", "问题乙", "长期", None, None, None, None, None, None, None],
            ],
        },
    )

    preview = read_ledger(path, resolve)

    assert preview.errors == []
    assert preview.skipped == []
    first, second = preview.rows
    assert first.row == 4
    assert (first.title, first.department, first.owner_name, first.progress) == ("问题甲", "org", "李四", "正在整改")
    assert first.co_departments == ["office", "talent", "grassroots"]
    assert (first.measures, first.category, first.source, first.remarks) == ("措施甲", "类型甲", "巡察", "无")
    assert (first.deadline, first.ongoing) == (datetime.date(2026, 3, 5), False)
    assert (second.row, second.department, second.deadline, second.ongoing) == (5, "talent", None, True)


def test_empty_footer_and_heading_rows_are_skipped(tmp_path: Path) -> None:
    preview = simple_ledger(
        tmp_path,
        ["一、理论学习方面"],  # row 3: section heading before any item
        item(1, "问题一", "办公室", deadline="2026-12-01"),  # row 4
        [],  # row 5: empty
        item(2, "问题二", "组织科"),  # row 6
        ["说明：本表由各科室填报"],  # row 7
        ["填报人：张三  审核人：李四"],  # row 8
        [None, None, None, "2026年1月5日"],  # row 9: a lone date under the table
        [3],  # row 10: a pre-numbered but unused line, trailing: not reported
        [],
    )

    assert preview.errors == []
    assert [(r.row, r.title) for r in preview.rows] == [(4, "问题一"), (6, "问题二")]
    assert preview.skipped == [
        SkippedRow(3, "heading"),
        SkippedRow(5, "empty"),
        SkippedRow(7, "footer"),
        SkippedRow(8, "footer"),
        SkippedRow(9, "footer"),
    ]


def test_title_starting_like_a_footer_word_is_still_an_item(tmp_path: Path) -> None:
    preview = simple_ledger(
        tmp_path, item(None, "审核人员把关不严", "办公室"), [None, "注意事项落实不到位", None, None, None, "组织科"]
    )

    assert [r.title for r in preview.rows] == ["审核人员把关不严", "注意事项落实不到位"]
    assert preview.skipped == []


def test_footer_split_over_several_cells(tmp_path: Path) -> None:
    preview = simple_ledger(tmp_path, item(1, "问题一", "办公室"), ["填报人：", "张三", None, "审核人：", "李四"])

    assert len(preview.rows) == 1
    assert preview.skipped == [SkippedRow(4, "footer")]


# --- row-level errors ------------------------------------------------------------------------------


def test_unknown_units_are_row_errors(tmp_path: Path) -> None:
    preview = simple_ledger(
        tmp_path,
        item(1, "问题一", "宣传部"),
        item(2, "问题二", "组织科", co_units="办公室、财政局"),
        item(3, "问题三", "办公室"),
    )

    assert [r.row for r in preview.rows] == [5]
    assert preview.errors == [
        RowError(3, "责任单位", "未知单位 Unknown unit: '宣传部'", "宣传部"),
        RowError(4, "配合单位", "未知单位 Unknown unit: '财政局'", "财政局"),
    ]


def test_empty_title_and_department_are_row_errors(tmp_path: Path) -> None:
    preview = simple_ledger(tmp_path, item(1, "", "办公室"), item(2, "问题二", " "))

    assert preview.rows == []
    assert [(e.row, e.column) for e in preview.errors] == [(3, "问题描述"), (4, "责任单位")]
    assert all(e.message.startswith(("问题描述为空", "责任单位为空")) for e in preview.errors)


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        ("2026年2月30日", "无效日期 Invalid date: '2026年2月30日'"),
        ("下月底", "无法识别的整改时限 Unreadable deadline: '下月底'"),
        (46022, "无法识别的整改时限 Unreadable deadline: '46022'"),
    ],
)
def test_bad_deadline_is_row_error(tmp_path: Path, deadline: object, expected: str) -> None:
    preview = simple_ledger(tmp_path, item(1, "问题一", "办公室", deadline=deadline))

    assert preview.rows == []
    assert preview.errors == [RowError(3, "整改时限", expected, str(deadline), DATE_FORMS + "、长期坚持")]


# --- file-level errors -------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"not a spreadsheet", b"PK\x03\x04broken zip", b""])
def test_non_xlsx_upload_raises_format_error(content: bytes) -> None:
    with pytest.raises(LedgerFormatError, match=r"Not a readable \.xlsx file"):
        read_ledger(io.BytesIO(content), resolve)


def test_non_xlsx_path_raises_format_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("序号,问题描述,责任单位\n1,问题一,办公室\n", encoding="utf-8")

    with pytest.raises(LedgerFormatError):
        read_ledger(path, resolve)


def test_missing_department_column_raises_format_error(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "责任单位"]
    path = write_workbook(tmp_path / "ledger.xlsx", {"问题清单": [header, ["1", "问题一"]]})

    with pytest.raises(LedgerFormatError, match="Missing required column: 责任单位"):
        read_ledger(path, resolve)


def test_no_header_row_raises_format_error(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ledger.xlsx", {"Sheet": [["a", "b"], [1, 2]]})

    with pytest.raises(LedgerFormatError, match="No header row found"):
        read_ledger(path, resolve)


# --- parse_deadline ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.datetime(2026, 12, 31, 0, 0), (datetime.date(2026, 12, 31), False)),
        (datetime.date(2026, 1, 2), (datetime.date(2026, 1, 2), False)),
        ("2026年12月16日", (datetime.date(2026, 12, 16), False)),
        (" 2026 年 3 月 5 日 ", (datetime.date(2026, 3, 5), False)),
        ("2026年12月31日前", (datetime.date(2026, 12, 31), False)),
        ("2026.12.1", (datetime.date(2026, 12, 1), False)),
        ("2026-11-16", (datetime.date(2026, 11, 16), False)),
        ("2026/3/5", (datetime.date(2026, 3, 5), False)),
        ("２０２６－０３－０５", (datetime.date(2026, 3, 5), False)),
        ("长期坚持", (None, True)),
        ("长期", (None, True)),
        ("持续推进", (None, True)),
        ("常态化", (None, True)),
        (None, (None, False)),
        ("", (None, False)),
        ("  ", (None, False)),
    ],
)
def test_parse_deadline(value: object, expected: tuple[datetime.date | None, bool]) -> None:
    assert parse_deadline(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026年2月30日", "Invalid date: '2026年2月30日'"),
        ("2026-13-01", "Invalid date: '2026-13-01'"),
        ("2026-12/01", "Unreadable deadline: '2026-12/01'"),
        ("2026.12", "Unreadable deadline: '2026.12'"),
        ("next month", "Unreadable deadline: 'next month'"),
        (46022, "Unreadable deadline: '46022'"),
        (datetime.time(9, 30), "Unreadable deadline: '09:30:00'"),
    ],
)
def test_parse_deadline_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_deadline(value)
