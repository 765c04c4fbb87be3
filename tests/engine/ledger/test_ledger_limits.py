"""A workbook cannot make the reader exhaust the server: it is refused by its zip directory, or cut at the row cap."""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile

import pytest

from engine.ledger.ledger_import import LedgerFormatError, LedgerTooLarge, SkippedRow, read_ledger
from engine.store.config import ImportLimits
from tests import workbooks

UNITS = {"办公室": "office"}.get
SMALL = ImportLimits(max_bytes=1_000_000, max_member_bytes=2_000_000, max_total_bytes=3_000_000, max_rows=500)


def read(content: bytes, limits: ImportLimits = SMALL) -> object:
    return read_ledger(io.BytesIO(content), UNITS, limits)


def test_a_zip_bomb_of_empty_rows_is_refused_by_its_directory_naming_the_limit() -> None:
    bomb = workbooks.empty_rows_bomb(200_000)  # about 5 MB of XML
    assert len(bomb) < 100_000
    with pytest.raises(LedgerTooLarge, match="RECTIFLOW_IMPORT_MAX_MEMBER_BYTES") as refused:
        read(bomb)
    assert "xl/worksheets/sheet1.xml" in str(refused.value)


def test_all_parts_together_are_limited() -> None:
    two_parts = workbooks.with_parts(
        {
            "xl/media/image1.png": [os.urandom(1_600_000)],
            "xl/media/image2.png": [os.urandom(1_600_000)],
        }
    )
    with pytest.raises(LedgerTooLarge, match="RECTIFLOW_IMPORT_MAX_TOTAL_BYTES"):
        read(two_parts, dataclasses.replace(SMALL, max_bytes=10_000_000))


def test_a_part_that_expands_too_many_times_is_refused() -> None:
    limits = ImportLimits(max_member_bytes=10**9, max_total_bytes=10**9, max_ratio=100)
    with pytest.raises(LedgerTooLarge, match="RECTIFLOW_IMPORT_MAX_RATIO"):
        read(workbooks.huge_part(5_000_000), limits)


def test_a_file_over_the_byte_limit_is_refused_before_it_is_opened() -> None:
    content = workbooks.ledger([workbooks.item(n) for n in range(1, 40)])
    with pytest.raises(LedgerTooLarge, match="RECTIFLOW_IMPORT_MAX_BYTES"):
        read(content, ImportLimits(max_bytes=len(content) - 1))
    assert len(read(content, ImportLimits(max_bytes=len(content))).rows) == 39  # type: ignore[attr-defined]


def test_a_cell_far_down_is_refused_by_the_dimension_it_claims() -> None:
    with pytest.raises(LedgerFormatError, match="RECTIFLOW_IMPORT_MAX_ROWS") as refused:
        read(workbooks.far_row(2_000_000))
    assert "2000000" in str(refused.value)


def test_a_lying_dimension_does_not_let_the_reader_past_the_row_cap() -> None:
    with pytest.raises(LedgerFormatError, match="RECTIFLOW_IMPORT_MAX_ROWS") as refused:
        read(workbooks.far_row(2_000_000, dimension="A1:B2"))
    assert "row 501 was reached" in str(refused.value)


def test_a_sheet_of_exactly_the_row_cap_is_read() -> None:
    content = workbooks.ledger([workbooks.item(n) for n in range(1, 500)])  # the header and 499 items
    assert len(read(content).rows) == 499  # type: ignore[attr-defined]
    with pytest.raises(LedgerFormatError, match="more than 499 rows"):
        read(content, ImportLimits(max_rows=499))


def test_blank_rows_are_counted_not_listed() -> None:
    content = workbooks.with_parts(
        {
            workbooks.SHEET: workbooks.sheet_xml(
                "A1:B400",
                [
                    '<row r="400"><c r="A400" t="inlineStr"><is><t>二</t></is></c>'
                    '<c r="B400" t="inlineStr"><is><t>办公室</t></is></c></row>'
                ],
            )
        }
    )
    preview = read(content)
    assert [row.row for row in preview.rows] == [2, 400]  # type: ignore[attr-defined]
    assert preview.skipped == [SkippedRow(3, "empty", 397)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("content", [b"not a spreadsheet", b"PK\x03\x04broken zip", b""])
def test_what_is_no_zip_is_a_format_error_not_too_large(content: bytes) -> None:
    with pytest.raises(LedgerFormatError, match=r"Not a readable \.xlsx file") as refused:
        read(content)
    assert not isinstance(refused.value, LedgerTooLarge)


def test_a_zip_that_is_no_workbook_is_a_format_error() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with pytest.raises(LedgerFormatError, match=r"Not a readable \.xlsx file"):
        read(out.getvalue())


def test_a_string_table_larger_than_the_rows_could_use_is_refused_before_it_is_loaded() -> None:
    # openpyxl loads every shared string before the first row: 900,000 short ones took 37 s.
    allowed = SMALL.max_rows * 20
    assert read(workbooks.shared_strings(allowed)).errors == []  # type: ignore[attr-defined]
    with pytest.raises(LedgerTooLarge, match="RECTIFLOW_IMPORT_MAX_ROWS"):
        read(workbooks.shared_strings(allowed + 1))


def test_a_part_declaring_less_than_it_holds_is_cut_at_what_it_declares() -> None:
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>问题{n}</t></is></c></row>' for n in range(3, 200_000)
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbooks.ledger([]))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            data = source.read(name) if name != workbooks.SHEET else b"".join(workbooks.sheet_xml("A1:B2", [rows]))
            target.writestr(name, data)
    content = bytearray(out.getvalue())
    # The central directory's entry for the sheet: its uncompressed size (offset 24) now claims 2,000 bytes.
    entry = content.rindex(workbooks.SHEET.encode()) - 46
    assert content[entry : entry + 4] == b"PK\x01\x02"
    content[entry + 24 : entry + 28] = (2_000).to_bytes(4, "little")
    with pytest.raises(LedgerFormatError, match=r"Not a readable \.xlsx file"):
        read(bytes(content), dataclasses.replace(SMALL, max_bytes=10_000_000))


def test_a_sheet_broken_after_its_header_is_a_format_error_not_a_crash() -> None:
    broken = '<row r="3"><c r="A3" t="inlineStr"><is><t>x</t></is></c><broken'
    with pytest.raises(LedgerFormatError, match=r"Not a readable \.xlsx file"):
        read(workbooks.with_parts({workbooks.SHEET: workbooks.sheet_xml("A1:B3", [broken])}))
