"""The 旬调度 and 月总结 workbooks carry the sources and 长效机制 sheets with the JSON's own figures."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import People
from tests.measures_ledger import build
from tests.web.test_intake_reports_api import raised, triaged

API = "/api/v1/reports"


@pytest.fixture
def reader(client: FlaskClient, sessions: sessionmaker[Session], people: People) -> Any:
    """The measures ledger (closed in February, come back in March) and March's submissions; an auditor's GET."""
    build(sessions)
    first = raised(client, people, "2026-03-02", "群众反映")
    raised(client, people, "2026-03-03", "群众反映")
    own = raised(client, people, "2026-03-06", "自查")
    triaged(client, people, "2026-03-04", first, "accept", {})
    triaged(client, people, "2026-03-07", own, "decline", {"reason": "不属实"})

    def get(url: str, language: str | None = None) -> Any:
        headers = {**people.auth("auditor"), **({"Accept-Language": language} if language else {})}
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    return get


def table(sheet: Any, first_row: int) -> list[tuple[Any, ...]]:
    """The rows under the header at ``first_row`` - 1, down to the totals (a blank row or the end follows)."""
    found = []
    for row in sheet.iter_rows(min_row=first_row, values_only=True):
        if all(value is None for value in row):
            break
        found.append(tuple(row))
    return found


def sources_json(report: dict[str, Any], total: str) -> list[tuple[Any, ...]]:
    def values(f: dict[str, Any]) -> tuple[Any, ...]:
        return (f["raised"], f["became_items"], f["median_days_to_triage"])

    rows = [(n, f["source"], *values(f)) for n, f in enumerate(report["sources"], start=1)]
    return [*rows, (None, total, *values(report["total"]))]


def lasting_json(rows: list[dict[str, Any]], total_row: dict[str, Any], total: str, none: str) -> list[tuple[Any, ...]]:
    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["closed_with"], row["closed_without"], row["recurring"])

    body = [(n, row["name"] or none, *values(row)) for n, row in enumerate(rows, start=1)]
    return [*body, (None, total, *values(total_row))]


# Per case: the sources' total raised and the 长效机制 total (closed with, closed without, recurring), so that
# the comparison reads figures, not empty tables.
@pytest.mark.parametrize(
    ("kind", "query", "language", "names", "counted"),
    [
        ("monthly", "month=2026-03", None, ["制度性措施", "问题来源", "长效机制"], (3, (0, 0, 2))),
        ("dispatch", "period=2026-03-1", "zh", ["问题来源", "长效机制"], (3, (0, 0, 2))),
        ("monthly", "month=2026-02", "en", ["Measures", "Sources", "Lasting measures"], (0, (1, 2, 0))),
        ("dispatch", "period=2026-03-1&unit=works", "en", ["Sources", "Lasting measures"], (3, (0, 0, 1))),
    ],
)
def test_the_workbook_has_the_sources_and_lasting_figures_of_the_json(
    reader: Any, kind: str, query: str, language: str | None, names: list[str], counted: tuple[int, tuple[int, ...]]
) -> None:
    sources = reader(f"{API}/sources/{kind}?{query}").json
    lasting = reader(f"{API}/lasting/{kind}?{query}").json
    found = lasting["total"]
    assert (sources["total"]["raised"], (found["closed_with"], found["closed_without"], found["recurring"])) == counted
    book = load_workbook(BytesIO(reader(f"{API}/{kind}.xlsx?{query}", language).data))
    assert book.sheetnames[1:] == names

    def say(chinese: str, english: str, joint: str = " ") -> str:
        """As the workbook words a label: in the language asked for, else both (headers on two lines)."""
        return {"zh": chinese, "en": english}.get(language or "", f"{chinese}{joint}{english}")

    total, none = say("合计", "Total"), say("未分类", "No category")
    sheet = book[names[-2]]
    assert sheet["D1"].value == say("转为事项", "Became items", "\n")
    assert table(sheet, 2) == sources_json(sources, total)
    sheet = book[names[-1]]
    by_unit = table(sheet, 2)
    assert by_unit == lasting_json(lasting["units"], lasting["total"], total, none)
    assert sheet.cell(2 + len(by_unit) + 1, 2).value == say("问题类别", "Category", "\n")
    assert table(sheet, 2 + len(by_unit) + 2) == lasting_json(lasting["categories"], lasting["total"], total, none)
