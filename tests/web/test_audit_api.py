"""GET /audit/verify: auditors only; the history carries its hashes."""

from __future__ import annotations

import io

import time_machine
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from tests.conftest import People
from tests.engine.audit.test_audit import tampering

API = "/api/v1"


def test_auditors_verify_the_history_and_see_its_hashes(client: FlaskClient, people: People) -> None:
    item = client.post(
        f"{API}/items", json={"title": "审计", "department": "office"}, headers=people.auth("reporter")
    ).json
    task = item["tasks"][0]["id"]
    client.post(f"{API}/tasks/{task}/complete", json={"data": {"measures": "m"}}, headers=people.auth("manager"))
    report = client.get(f"{API}/audit/verify", headers=people.auth("auditor"))
    assert (report.status_code, report.json) == (200, {"ok": True, "checked": 3, "problem_count": 0, "problems": []})
    for user in ("reporter", "manager", "approver", "designer", "admin"):
        assert client.get(f"{API}/audit/verify", headers=people.auth(user)).status_code == 403
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert events[0]["prev_hash"] == "0" * 64
    assert [event["action"] for event in events] == ["created", "decision", "completed"]
    assert events[1]["prev_hash"] == events[0]["hash"] != events[1]["hash"]
    assert events[2]["prev_hash"] == events[1]["hash"] != events[2]["hash"]


def test_the_auditor_exports_the_history_across_items_filtered_with_hashes(client: FlaskClient, people: People) -> None:
    with time_machine.travel("2026-11-10T02:00:00+00:00", tick=False):
        early = client.post(
            f"{API}/items", json={"title": "早", "department": "office"}, headers=people.auth("reporter")
        ).json
    with time_machine.travel("2026-11-20T02:00:00+00:00", tick=False):
        late = client.post(
            f"{API}/items", json={"title": "晚", "department": "works"}, headers=people.auth("reporter")
        ).json
        task = late["tasks"][0]["id"]
        client.post(
            f"{API}/tasks/{task}/complete", json={"data": {"measures": "m"}}, headers=people.auth("works_manager")
        )

    def export(query: str) -> list[tuple[int, int, str | None, str]]:
        response = client.get(f"{API}/audit/history?{query}", headers=people.auth("auditor"))
        assert response.status_code == 200, response.json
        return [(e["item_id"], e["seq"], e["actor"], e["action"]) for e in response.json["events"]]

    # Each item's deadline decision is recorded by no one, right after it was raised.
    assert export("") == [
        (early["id"], 1, "reporter", "created"),
        (early["id"], 2, None, "decision"),
        (late["id"], 1, "reporter", "created"),
        (late["id"], 2, None, "decision"),
        (late["id"], 3, "works_manager", "completed"),
    ]
    assert export("actor=works_manager") == [(late["id"], 3, "works_manager", "completed")]
    assert export("action=created&department=office") == [(early["id"], 1, "reporter", "created")]
    assert export("action=decision") == [(early["id"], 2, None, "decision"), (late["id"], 2, None, "decision")]
    assert export("since=2026-11-15") == [
        (late["id"], 1, "reporter", "created"),
        (late["id"], 2, None, "decision"),
        (late["id"], 3, "works_manager", "completed"),
    ]
    assert export("until=2026-11-10") == [(early["id"], 1, "reporter", "created"), (early["id"], 2, None, "decision")]
    assert export(f"item_id={late['id']}") == [
        (late["id"], 1, "reporter", "created"),
        (late["id"], 2, None, "decision"),
        (late["id"], 3, "works_manager", "completed"),
    ]
    assert client.get(f"{API}/audit/history?since=yesterday", headers=people.auth("auditor")).status_code == 422
    assert client.get(f"{API}/audit/history", headers=people.auth("manager")).status_code == 403

    rows = client.get(f"{API}/audit/history", headers=people.auth("auditor")).json["events"]
    sheet = load_workbook(
        io.BytesIO(client.get(f"{API}/audit/history.xlsx", headers=people.auth("auditor")).data)
    ).active
    table = list(sheet.iter_rows(values_only=True))
    assert len(table) == 1 + len(rows)
    assert [(r[0], r[3], r[12]) for r in table[1:]] == [(e["item_id"], e["seq"], e["hash"]) for e in rows]


def test_the_workbook_shows_control_characters_it_cannot_hold(client: FlaskClient, people: People) -> None:
    # The API stores text with control characters (only NUL is refused); an .xlsx cell cannot hold them.
    created = client.post(
        f"{API}/items", json={"title": "窗口\x01服务\t排队", "department": "office"}, headers=people.auth("reporter")
    )
    assert created.status_code == 201
    response = client.get(f"{API}/audit/history.xlsx", headers=people.auth("auditor"))
    assert response.status_code == 200, response.get_data(as_text=True)
    sheet = load_workbook(io.BytesIO(response.data)).active
    # Both of its events (created, decision) name the item by its title.
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["窗口\ufffd服务\t排队"] * 2


def test_a_malformed_event_is_reported_not_a_server_error(
    client: FlaskClient, people: People, db_engine: Engine
) -> None:
    item = client.post(
        f"{API}/items", json={"title": "审计", "department": "office"}, headers=people.auth("reporter")
    ).json
    task = item["tasks"][0]["id"]
    client.post(f"{API}/tasks/{task}/complete", json={"data": {"measures": "m"}}, headers=people.auth("manager"))
    sqlite = db_engine.dialect.name == "sqlite"
    with tampering(db_engine) as conn:
        # PostgreSQL's json column refuses text that is not JSON: there, a JSON string where an object was.
        plain = "overwritten with plain text" if sqlite else '"overwritten with plain text"'
        conn.execute(
            text("UPDATE history_event SET data = :d WHERE item_id = :i AND seq = 2"), {"d": plain, "i": item["id"]}
        )
        if sqlite:
            conn.execute(
                text("UPDATE history_event SET at = 'yesterday' WHERE item_id = :i AND seq = 1"), {"i": item["id"]}
            )
    report = client.get(f"{API}/audit/verify", headers=people.auth("auditor"))
    assert report.status_code == 200, report.get_data(as_text=True)
    assert report.json["ok"] is False
    located = {(p["item_id"], p["seq"]) for p in report.json["problems"]}
    assert (item["id"], 2) in located
    if sqlite:
        assert (item["id"], 1) in located
        assert any("not JSON" in p["reason"] for p in report.json["problems"])
