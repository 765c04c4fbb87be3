"""The report endpoints: JSON figures, the same figures in the .xlsx, scoping and bad periods.

The ledger and the hand-counted figures are those of ``tests/engine/reports/test_reports.py``.
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.reports.report_xlsx import HEADER_ROW
from tests.conftest import People
from tests.engine.reports.test_reports import (
    BJ,
    DISPATCH_2026_11_2,
    MONTHLY_2026_10,
    MONTHLY_2026_11,
    WEEK_2026_W47,
    build_ledger,
)

API = "/api/v1/reports"
FIGURES = ("open_at_start", "raised", "closed", "overdue", "due_next", "no_progress", "closure_rate")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def ledger(sessions: sessionmaker[Session], people: People) -> People:
    build_ledger(sessions)
    return people


def get(client: FlaskClient, people: People, url: str, user: str = "auditor") -> Any:
    response = client.get(url, headers=people.auth(user))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def figures(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    def row(f: dict[str, Any]) -> tuple[Any, ...]:
        return (*(f[name] for name in FIGURES), f["avg_days_to_close"])

    return {**{u["department"]["code"]: row(u) for u in report["units"]}, "total": row(report["total"])}


def sheet(content: bytes) -> tuple[Any, list[tuple[Any, ...]]]:
    book = load_workbook(BytesIO(content))
    ws = book.active
    assert ws is not None
    return ws, [tuple(row) for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]


@pytest.mark.parametrize(
    ("query", "expected", "title", "period"),
    [
        (
            "dispatch?period=2026-11-2",
            DISPATCH_2026_11_2,
            "2026年11月中旬调度表",
            {"kind": "dispatch", "label": "2026年11月中旬", "start": "2026-11-11", "end": "2026-11-20"},
        ),
        (
            "monthly?month=2026-10",
            MONTHLY_2026_10,
            "2026年10月总结表",
            {"kind": "monthly", "label": "2026年10月", "start": "2026-10-01", "end": "2026-10-31"},
        ),
        (
            "monthly?month=2026-11",
            MONTHLY_2026_11,
            "2026年11月总结表",
            {"kind": "monthly", "label": "2026年11月", "start": "2026-11-01", "end": "2026-11-30"},
        ),
    ],
)
def test_figures_as_json_and_as_the_same_workbook(
    client: FlaskClient, ledger: People, query: str, expected: dict[str, Any], title: str, period: dict[str, str]
) -> None:
    report = get(client, ledger, f"{API}/{query}").json
    assert report["period"] == period
    assert [u["department"] for u in report["units"]] == [
        {"code": "office", "name": "办公室"},
        {"code": "works", "name": "工务科"},
    ]
    assert figures(report) == expected

    path, _, args = query.partition("?")
    response = get(client, ledger, f"{API}/{path}.xlsx?{args}")
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    ws, rows = sheet(response.data)
    assert ws["A1"].value == title
    assert "A1:J1" in {str(cells) for cells in ws.merged_cells.ranges}
    assert ws.cell(HEADER_ROW, 3).value == "期初在办\nOpen at start"
    assert ws.column_dimensions["B"].width >= 20
    listed = [(u["department"]["name"], *figures(report)[u["department"]["code"]]) for u in report["units"]]
    assert rows == [
        *((n, *row) for n, row in enumerate(listed, start=1)),
        (None, "合计 Total", *figures(report)["total"]),
    ]


def beijing(at: str) -> dt.datetime:
    """An API instant as the office's wall-clock time (how the workbook shows it)."""
    return dt.datetime.fromisoformat(at).astimezone(BJ).replace(tzinfo=None)


def test_week_plan_as_json_and_workbook(client: FlaskClient, ledger: People) -> None:
    report = get(client, ledger, f"{API}/week?week=2026-W47").json
    assert report["period"] == {"kind": "week", "label": "2026年第47周", "start": "2026-11-16", "end": "2026-11-22"}
    assert (report["next"]["start"], report["next"]["end"], report["total"]) == ("2026-11-23", "2026-11-29", 3)
    listed = {
        unit["department"]["code"]: [
            (p["title"], p["plan"], f"{beijing(p['at']):%Y-%m-%d %H:%M}") for p in unit["plans"]
        ]
        for unit in report["units"]
    }
    assert listed == WEEK_2026_W47
    assert report["units"][1]["plans"][0]["at"] == "2026-11-20T15:50:00+00:00"

    ws, rows = sheet(get(client, ledger, f"{API}/week.xlsx?week=2026-W47").data)
    assert ws["A1"].value == "2026年第47周周计划表"
    plans = [(unit["department"]["name"], p) for unit in report["units"] for p in unit["plans"]]
    assert rows == [
        *(
            (n, unit, p["item_id"], p["title"], p["plan"], p["actor_name"], beijing(p["at"]))
            for n, (unit, p) in enumerate(plans, start=1)
        ),
        (None, "合计 Total", 3, None, None, None, None),
    ]


def test_a_unit_manager_sees_his_units_figures(client: FlaskClient, ledger: People) -> None:
    report = get(client, ledger, f"{API}/dispatch?period=2026-11-2", user="works_manager").json
    assert figures(report) == {"works": DISPATCH_2026_11_2["works"], "total": DISPATCH_2026_11_2["works"]}
    _, rows = sheet(get(client, ledger, f"{API}/dispatch.xlsx?period=2026-11-2", user="works_manager").data)
    assert [row[1] for row in rows] == ["工务科", "合计 Total"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dispatch?period=2026-11-4", "period"),
        ("dispatch.xlsx?period=2026-13-1", "period"),
        ("dispatch", "period"),
        ("monthly?month=2026-13", "month"),
        ("monthly.xlsx?month=2026-1", "month"),
        ("week?week=2026-W54", "week"),
        ("week.xlsx?week=2026-48", "week"),
    ],
)
def test_a_bad_period_is_a_422_naming_the_field(client: FlaskClient, people: People, query: str, field: str) -> None:
    response = client.get(f"{API}/{query}", headers=people.auth("auditor"))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [error["field"] for error in response.json["errors"]] == [field]


def test_reports_need_a_token_and_are_documented(client: FlaskClient, people: People) -> None:
    assert client.get(f"{API}/monthly?month=2026-11").status_code == 401
    assert client.get(f"{API}/week.xlsx?week=2026-W48").status_code == 401
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/reports/dispatch", "/api/v1/reports/monthly.xlsx", "/api/v1/reports/week"} <= set(paths)


def test_a_plan_with_control_characters_still_makes_a_workbook(client: FlaskClient, people: People) -> None:
    with time_machine.travel("2026-11-18T02:00:00+00:00", tick=False):
        item = client.post(
            "/api/v1/items", json={"title": "t", "department": "office"}, headers=people.auth("reporter")
        ).json
        for data in ({"measures": "m"}, {"owner": "owner"}):
            task = item["tasks"][0]["id"]
            url = f"/api/v1/tasks/{task}/complete"
            item = client.post(url, json={"data": data}, headers=people.auth("manager")).json
        progress = {"note": "n", "plan": "下周\x1f完成"}
        url = f"/api/v1/items/{item['id']}/progress"
        assert client.post(url, json=progress, headers=people.auth("owner")).status_code == 201
    _, rows = sheet(get(client, people, f"{API}/week.xlsx?week=2026-W47").data)
    assert rows[0][4] == "下周\ufffd完成"


@pytest.mark.parametrize("user", ["owner", "designer"])
def test_who_may_not_read_reports_gets_a_403(client: FlaskClient, people: People, user: str) -> None:
    for query in ("dispatch?period=2026-11-2", "monthly.xlsx?month=2026-11", "week?week=2026-W48"):
        response = client.get(f"{API}/{query}", headers=people.auth(user))
        assert (response.status_code, response.mimetype) == (403, "application/problem+json")


def test_a_report_of_one_unit_names_it(client: FlaskClient, ledger: People) -> None:
    report = get(client, ledger, f"{API}/dispatch?period=2026-11-2&unit=works").json
    assert report["unit"] == {"code": "works", "name": "工务科"}
    assert figures(report) == {"works": DISPATCH_2026_11_2["works"], "total": DISPATCH_2026_11_2["works"]}
    ws, _ = sheet(get(client, ledger, f"{API}/dispatch.xlsx?period=2026-11-2&unit=works").data)
    assert ws["A1"].value == "2026年11月中旬调度表（工务科）"
    response = client.get(f"{API}/week?week=2026-W48&unit=nowhere", headers=ledger.auth("auditor"))
    assert response.status_code == 422
    assert [error["field"] for error in response.json["errors"]] == ["unit"]


@pytest.mark.parametrize(
    ("accept", "header", "total"),
    [
        (None, "期初在办\nOpen at start", "合计 Total"),
        ("zh-CN,zh;q=0.9", "期初在办", "合计"),
        ("en-GB", "Open at start", "Total"),
    ],
)
def test_the_workbook_speaks_the_language_asked_for(
    client: FlaskClient, people: People, accept: str | None, header: str, total: str
) -> None:
    headers = {**people.auth("auditor"), **({"Accept-Language": accept} if accept else {})}
    response = client.get(f"{API}/monthly.xlsx?month=2026-11", headers=headers)
    ws, rows = sheet(response.data)
    assert (ws.cell(HEADER_ROW, 3).value, rows[-1][1]) == (header, total)
