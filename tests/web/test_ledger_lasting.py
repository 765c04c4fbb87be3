"""The ledger's 长效机制: the export's columns (closed with or without a lasting measure, the measures, 曾整改过,
来源反映) that a re-import ignores, the ``lasting`` filter on the API, the export and the page, the page's marks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import People
from tests.measures_ledger import build
from tests.web.test_sessions import PASSWORD, page_login
from web import create_app, db

LASTING_COLUMNS = ["长效机制", "制度性措施", "曾整改过", "来源反映"]


@dataclass(frozen=True)
class Ledger:
    lamp: int  # closed, its review noted 已建立长效机制
    canteen: int  # closed, noted 无需建立长效机制
    queue: int  # closed, nothing noted; a draft measure proposed from it
    lamp_again: int  # open, looks like lamp (曾整改过)
    dishes: int  # open, same unit and category as canteen (曾整改过)
    accepted: int  # open, raised from a submission another one was merged into
    submissions: tuple[int, int]
    draft: int  # the measure proposed from queue, still a draft


def call(client: FlaskClient, people: People, user: str, method: str, url: str, body: Any = None) -> Any:
    response = client.open(url, method=method, json=body, headers=people.auth(user))
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


@pytest.fixture
def ledger(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> Ledger:
    lamp, canteen, queue, lamp_again, dishes, _archive, _next_year = build(sessions)
    draft = call(client, people, "approver", "POST", f"/api/v1/items/{queue}/measures", {"title": "窗口叫号制度"})
    submission = {"kind": "problem", "text": "会议室空调漏水", "source": "群众反映", "department": "office"}
    first = call(client, people, "owner", "POST", "/api/v1/submissions", submission)["id"]
    second = call(client, people, "owner", "POST", "/api/v1/submissions", {**submission, "text": "空调又漏"})["id"]
    accepted = call(client, people, "reporter", "POST", f"/api/v1/submissions/{first}/accept", {})["item"]["id"]
    call(client, people, "reporter", "POST", f"/api/v1/submissions/{second}/merge", {"item": accepted})
    return Ledger(lamp, canteen, queue, lamp_again, dishes, accepted, (first, second), draft["id"])


def adopt(client: FlaskClient, people: People, measure: int) -> None:
    call(client, people, "approver", "POST", f"/api/v1/measures/{measure}/status", {"status": "in_force"})


def rows(content: bytes) -> dict[int, dict[str, Any]]:
    """The exported ledger's rows by 编号, each as header -> value."""
    sheet = load_workbook(BytesIO(content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    assert header[-4:] == LASTING_COLUMNS  # appended: older ledgers' columns keep their places
    return {row[1]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(3, values_only=True)}


def exported(client: FlaskClient, people: People, query: str = "") -> dict[int, dict[str, Any]]:
    response = client.get(f"/api/v1/items/export.xlsx?sort=id{query}", headers=people.auth("approver"))
    assert response.status_code == 200
    return rows(response.data)


def test_the_export_shows_each_items_mechanism_measures_earlier_items_and_submissions_and_reads_back(
    client: FlaskClient, people: People, ledger: Ledger
) -> None:
    found = exported(client, people)
    shown = {number: tuple(row[name] for name in LASTING_COLUMNS) for number, row in found.items()}
    assert shown[ledger.lamp] == ("有长效机制（已建立长效机制）", None, None, None)
    assert shown[ledger.canteen] == ("无长效机制（无需建立长效机制）", None, None, None)
    # A draft does not make a lasting measure yet; the measure is named with its status.
    assert shown[ledger.queue] == ("无长效机制", "窗口叫号制度（草案）", None, None)
    assert shown[ledger.lamp_again] == (None, None, f"#{ledger.lamp}", None)
    assert shown[ledger.dishes] == (None, None, f"#{ledger.canteen}", None)
    first, second = ledger.submissions
    assert shown[ledger.accepted] == (None, None, None, f"#{first}、#{second}")

    adopt(client, people, ledger.draft)
    again = exported(client, people)
    assert (again[ledger.queue]["长效机制"], again[ledger.queue]["制度性措施"]) == ("有长效机制", "窗口叫号制度")

    # The importer reads none of these columns: the exported ledger comes back with nothing to change.
    response = client.get("/api/v1/items/export.xlsx?sort=id", headers=people.auth("approver"))
    plan = client.post(
        "/api/v1/items/import?dry_run=true",
        data={"file": (BytesIO(response.data), "台账.xlsx")},
        headers=people.auth("reporter"),
        content_type="multipart/form-data",
    ).get_json()
    assert (plan["rows"], plan["errors"]) == ([], [])
    assert [row["item_id"] for row in plan["unchanged"]] == sorted(again)


def listed(client: FlaskClient, people: People, query: str) -> dict[int, dict[str, Any]]:
    body = call(client, people, "approver", "GET", f"/api/v1/items?per_page=200&{query}")
    return {item["id"]: item for item in body["items"]}


def test_the_lasting_filter_on_the_list_and_the_export_and_the_lists_marks(
    client: FlaskClient, people: People, ledger: Ledger
) -> None:
    assert set(listed(client, people, "lasting=true")) == {ledger.lamp}
    assert set(listed(client, people, "lasting=false")) == {ledger.canteen, ledger.queue}
    assert set(exported(client, people, "&lasting=false")) == {ledger.canteen, ledger.queue}
    adopt(client, people, ledger.draft)
    assert set(listed(client, people, "lasting=true")) == {ledger.lamp, ledger.queue}
    assert set(exported(client, people, "&lasting=true&department=office")) == {ledger.queue}

    every = listed(client, people, "")
    marks = {number: (row["lasting"], row["came_back"], row["submissions"]) for number, row in every.items()}
    assert marks[ledger.lamp] == (True, False, []) and marks[ledger.canteen] == (False, False, [])
    assert marks[ledger.lamp_again] == (None, True, []) and marks[ledger.dishes] == (None, True, [])
    assert marks[ledger.accepted] == (None, False, list(ledger.submissions))

    refused = client.get("/api/v1/items?lasting=perhaps", headers=people.auth("approver"))
    assert (refused.status_code, [error["field"] for error in refused.get_json()["errors"]]) == (422, ["lasting"])
    refused = client.get("/api/v1/items/export.xlsx?lasting=perhaps", headers=people.auth("approver"))
    assert (refused.status_code, [error["field"] for error in refused.get_json()["errors"]]) == (422, ["lasting"])


def test_a_withdrawn_item_is_never_closed_with_a_lasting_measure(
    client: FlaskClient, people: People, ledger: Ledger
) -> None:
    """Withdrawn after a measure in force was linked to it: it was never closed, with or without one."""
    measure = call(client, people, "approver", "POST", f"/api/v1/items/{ledger.dishes}/measures", {})["id"]
    adopt(client, people, measure)
    call(client, people, "admin", "POST", f"/api/v1/items/{ledger.dishes}/withdraw", {"reason": "重复登记"})
    assert ledger.dishes not in listed(client, people, "lasting=true")
    assert listed(client, people, "")[ledger.dishes]["lasting"] is None
    assert exported(client, people)[ledger.dishes]["长效机制"] is None


@pytest.fixture
def page(database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[FlaskClient]:
    """The approver's browser session (over plain HTTP)."""
    with transaction(sessions) as session:
        identity.set_password(session, identity.user_by_username(session, "approver"), PASSWORD)
    app: Flask = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "COOKIE_SECURE": False})
    yield page_login(app.test_client(), "approver")
    db.dispose(app)


def row_of(html: str, item_id: int) -> str:
    found = re.search(rf'<tr class="[^"]*">\s*<td>{item_id}</td>.*?</tr>', html, re.S)
    assert found, f"item {item_id} is listed"
    return found.group(0)


def test_the_page_marks_each_row_and_filters_by_lasting(page: FlaskClient, ledger: Ledger) -> None:
    html = page.get("/ledger?sort=id").get_data(as_text=True)
    assert "有长效机制" in row_of(html, ledger.lamp) and "无长效机制" in row_of(html, ledger.canteen)
    assert "长效机制</span>" not in row_of(html, ledger.lamp_again)  # open: neither
    assert f'title="近 12 个月内已销号的类似事项：#{ledger.lamp}">曾整改过' in row_of(html, ledger.lamp_again)
    assert "曾整改过" not in row_of(html, ledger.lamp)
    first, second = ledger.submissions
    assert f"反映 #{first}" in row_of(html, ledger.accepted) and f"反映 #{second}" in row_of(html, ledger.accepted)

    closed_without = page.get("/ledger?sort=id&lasting=false").get_data(as_text=True)
    assert re.findall(r'<tr class="[^"]*">\s*<td>(\d+)</td>', closed_without) == [
        str(ledger.canteen),
        str(ledger.queue),
    ]
    assert '<option value="false" selected>' in closed_without
    response = page.get("/ledger/export.xlsx?sort=id&lasting=true")
    assert set(rows(response.data)) == {ledger.lamp}
    wrong = page.get("/ledger?lasting=perhaps").get_data(as_text=True)
    # Named beside its field, and nothing listed until it is fixed.
    assert 'class=" invalid">长效机制 <select name="lasting">' in wrong and "筛选条件有误" in wrong
