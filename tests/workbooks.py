"""Hostile (and merely large) ledger workbooks, built by the tests themselves."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from openpyxl import Workbook

HEADER = ["序号", "问题描述", "问题来源", "责任单位", "配合单位", "整改时限", "整改措施", "备注"]
SHEET = "xl/worksheets/sheet1.xml"


def ledger(rows: Iterable[list[object]]) -> bytes:
    """A plain ledger: the header, then the rows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def item(n: int, unit: str = "办公室") -> list[object]:
    return [n, f"问题 {n}", "自查", unit, None, "2026年12月16日", "整改", None]


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(dimension: str, body: Iterable[str]) -> Iterable[bytes]:
    """Sheet XML in pieces: a header row, an item in row 2, then ``body`` (more ``<row>`` elements)."""
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>'
        f'<row r="1">{_cell("A1", "问题描述")}{_cell("B1", "责任单位")}</row>'
        f'<row r="2">{_cell("A2", "窗口排队时间长")}{_cell("B2", "办公室")}</row>'
    ).encode()
    for piece in body:
        yield piece.encode()
    yield b"</sheetData></worksheet>"


def with_parts(parts: dict[str, Iterable[bytes]]) -> bytes:
    """A real workbook with some of its parts replaced or added (each given in pieces, deflated)."""
    source = zipfile.ZipFile(io.BytesIO(ledger([])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name not in parts:
                target.writestr(name, source.read(name))
        for name, pieces in parts.items():
            with target.open(name, "w", force_zip64=True) as part:
                for piece in pieces:
                    part.write(piece)
    return out.getvalue()


def empty_rows_bomb(rows: int) -> bytes:
    """One item, then ``rows`` empty rows: a few hundred KB that expand to tens of MB of XML."""
    chunk = 10_000
    # Rows without numbers count on from the last one; written in chunks, as building them one by one is slow.
    body = ('<row spans="1:2"/>' * min(chunk, rows - start) for start in range(0, rows, chunk))
    return with_parts({SHEET: sheet_xml(f"A1:B{rows + 2}", body)})


def far_row(row: int, dimension: str | None = None) -> bytes:
    """One item, then a single cell far down; ``dimension`` may lie about where the sheet ends."""
    body = [f'<row r="{row}">{_cell(f"A{row}", "远")}</row>']
    return with_parts({SHEET: sheet_xml(dimension or f"A1:B{row}", body)})


def huge_part(size: int) -> bytes:
    """A workbook carrying a part of ``size`` zero bytes (a "picture"), deflated to almost nothing."""
    chunk = bytes(1024 * 1024)
    pieces = (chunk[: min(len(chunk), size - start)] for start in range(0, size, len(chunk)))
    return with_parts({"xl/media/image1.png": pieces})


def shared_strings(count: int) -> bytes:
    """A workbook whose shared-string table holds ``count`` distinct texts (no cell uses them)."""

    def table() -> Iterable[bytes]:
        yield b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        yield "".join(f"<si><t>{n}</t></si>" for n in range(count)).encode()
        yield b"</sst>"

    types = zipfile.ZipFile(io.BytesIO(ledger([]))).read("[Content_Types].xml")
    part = (
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    return with_parts(
        {
            "xl/sharedStrings.xml": table(),
            "[Content_Types].xml": [types.replace(b"</Types>", part.encode() + b"</Types>")],
        }
    )
