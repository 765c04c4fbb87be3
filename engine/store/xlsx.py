"""Writing values into ``.xlsx`` cells: the one place every workbook the product writes goes through.

User text is data, never a formula. openpyxl turns a string starting with ``=`` into a formula, and
spreadsheet programs run what a person types (or pastes) starting with ``= + - @`` — also after a tab
or CR. Such text is stored as a string cell with the quote prefix (Excel's leading apostrophe, not part
of the value): Excel and LibreOffice show the same text, keep it text when the cell is edited, and
openpyxl (so the ledger importer) reads the text back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.worksheet.worksheet import Worksheet

from engine.store.text import cell_value

# What makes a spreadsheet program read a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def put(cell: Cell, value: Any) -> Cell:
    """Set ``cell`` to ``value``: text stays text, whatever it starts with; other values are written as they are."""
    cell.value = cell_value(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def cells(sheet: Worksheet, values: Iterable[Any]) -> list[Cell]:
    """A row for ``sheet.append`` (in both normal and write-only workbooks), each value through ``put``."""
    return [put(WriteOnlyCell(sheet), value) for value in values]


def write(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """``sheet.cell(row, column, value)``, through ``put``."""
    return put(sheet.cell(row, column), value)
