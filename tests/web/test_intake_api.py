"""Intake API: raise, triage (accept, merge, decline), one's own, the public form and its receipt, limits."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.conftest import People

API = "/api/v1/submissions"
PUBLIC = "/api/v1/public/submissions"
PROBLEM = {"kind": "problem", "text": "路灯不亮\n东门外三盏路灯坏了一个月", "source": "群众反映", "department": "works"}


def post(client: FlaskClient, people: People, user: str | None, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json=body, headers=people.auth(user) if user else {})


def raised(client: FlaskClient, people: People, user: str = "owner", **changes: Any) -> dict[str, Any]:
    response = post(client, people, user, API, {**PROBLEM, **changes})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def open_public_form(client: FlaskClient, people: People) -> None:
    response = client.put(f"{API}/public-form", json={"enabled": True}, headers=people.auth("admin"))
    assert response.status_code == 200 and response.get_json() == {"enabled": True}


def test_accept_raises_a_linked_item_prefilled_from_the_submission(client: FlaskClient, people: People) -> None:
    mine = raised(client, people)
    assert mine["status"] == "new" and mine["item"] is None
    queue = client.get(f"{API}?status=new", headers=people.auth("works_manager")).get_json()["submissions"]
    assert [s["id"] for s in queue] == [mine["id"]]
    assert client.get(f"{API}?status=new", headers=people.auth("manager")).get_json()["submissions"] == []

    accepted = post(client, people, "works_manager", f"{API}/{mine['id']}/accept", {"severity": "较重"})
    assert accepted.status_code == 200, accepted.get_json()
    item_id = accepted.get_json()["item"]["id"]
    item = client.get(f"/api/v1/items/{item_id}", headers=people.auth("works_manager")).get_json()
    assert (item["title"], item["description"], item["source"]) == ("路灯不亮", PROBLEM["text"], "群众反映")
    assert item["department"]["code"] == "works" and item["severity"] == "较重"
    events = client.get(f"/api/v1/items/{item_id}/history", headers=people.auth("auditor")).get_json()["events"]
    assert events[0]["action"] == "created" and events[0]["data"]["submission"] == mine["id"]

    # The submitter sees the outcome and the item's status, not its history.
    [seen] = client.get(f"{API}/mine", headers=people.auth("owner")).get_json()["submissions"]
    assert seen["status"] == "accepted" and seen["item"] == {
        "id": item_id,
        "status": item["status"],
        "status_label": item["status_label"],
    }
    again = post(client, people, "reporter", f"{API}/{mine['id']}/decline", {"reason": "重复"})
    assert again.status_code == 409
    log = client.get("/api/v1/audit/admin-log?action=submission.accepted", headers=people.auth("auditor")).get_json()
    assert [entry["target"] for entry in log["entries"]] == [f"submission {mine['id']}"]


def test_the_office_accepts_into_another_unit_and_edits_the_item(client: FlaskClient, people: People) -> None:
    mine = raised(client, people, text="  \n  食堂卫生差  \n细节")
    body = {"title": "食堂卫生整改", "department": "office", "category": "后勤", "deadline": "2030-01-31"}
    accepted = post(client, people, "reporter", f"{API}/{mine['id']}/accept", body)
    assert accepted.status_code == 200, accepted.get_json()
    item = client.get(f"/api/v1/items/{accepted.get_json()['item']['id']}", headers=people.auth("reporter")).get_json()
    assert (item["title"], item["department"]["code"], item["category"], item["deadline"]) == (
        "食堂卫生整改",
        "office",
        "后勤",
        "2030-01-31",
    )


def test_merge_joins_an_open_item_and_its_history_records_it(client: FlaskClient, people: People) -> None:
    first, second = raised(client, people), raised(client, people, text="路灯又坏了")
    item_id = post(client, people, "reporter", f"{API}/{first['id']}/accept", {}).get_json()["item"]["id"]
    merged = post(client, people, "works_manager", f"{API}/{second['id']}/merge", {"item": item_id})
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["status"] == "merged" and merged.get_json()["item"]["id"] == item_id
    events = client.get(f"/api/v1/items/{item_id}/history", headers=people.auth("auditor")).get_json()["events"]
    assert events[-1]["action"] == "submission_merged" and events[-1]["data"]["submission"] == second["id"]
    assert post(client, people, "works_manager", f"{API}/{second['id']}/merge", {"item": item_id}).status_code == 409


def test_decline_needs_a_reason_the_submitter_then_reads(client: FlaskClient, people: People) -> None:
    mine = raised(client, people, kind="suggestion", source="献一策")
    assert post(client, people, "reporter", f"{API}/{mine['id']}/decline", {"reason": "  "}).status_code == 422
    declined = post(client, people, "reporter", f"{API}/{mine['id']}/decline", {"reason": "已有制度覆盖"})
    assert declined.status_code == 200
    [seen] = client.get(f"{API}/mine", headers=people.auth("owner")).get_json()["submissions"]
    assert (seen["kind"], seen["status"], seen["reason"], seen["item"]) == (
        "suggestion",
        "declined",
        "已有制度覆盖",
        None,
    )


@pytest.mark.parametrize(
    ("user", "action", "body"),
    [
        ("manager", "accept", {}),  # the office unit's manager, for a submission about works
        ("outsider", "accept", {}),  # a member
        ("owner", "decline", {"reason": "no"}),  # its own submitter, a member
        ("approver", "merge", {"item": 1}),
    ],
)
def test_who_may_not_triage_is_refused(client: FlaskClient, people: People, user: str, action: str, body: Any) -> None:
    mine = raised(client, people)
    response = post(client, people, user, f"{API}/{mine['id']}/{action}", body)
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    [seen] = client.get(f"{API}/mine", headers=people.auth("owner")).get_json()["submissions"]
    assert seen["status"] == "new"


def test_a_manager_accepts_only_into_their_own_unit(client: FlaskClient, people: People) -> None:
    mine = raised(client, people)
    response = post(client, people, "works_manager", f"{API}/{mine['id']}/accept", {"department": "office"})
    assert response.status_code == 403
    assert client.get(f"{API}?status=new", headers=people.auth("works_manager")).get_json()["submissions"]


def test_members_do_not_see_the_queue_and_anonymous_callers_nothing(client: FlaskClient, people: People) -> None:
    assert client.get(f"{API}?status=new", headers=people.auth("owner")).status_code == 403
    assert client.get(f"{API}/mine").status_code == 401
    assert client.post(API, json=PROBLEM).status_code == 401
    assert client.put(f"{API}/public-form", json={"enabled": True}, headers=people.auth("reporter")).status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "a\x07b"}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "   "}, "text"),
        ({"contact": "a\nb"}, "contact"),
        ({"source": "信访"}, "source"),
        ({"department": "nowhere"}, "department"),
        ({"kind": "praise"}, "kind"),
    ],
)
def test_hostile_or_wrong_input_is_refused(client: FlaskClient, people: People, changes: Any, field: str) -> None:
    response = post(client, people, "owner", API, {**PROBLEM, **changes})
    assert response.status_code == 422
    assert field in {error["field"] for error in response.get_json()["errors"]}


def test_html_is_kept_as_text_and_a_formula_is_never_one_in_the_ledger(client: FlaskClient, people: People) -> None:
    text = '=HYPERLINK("http://evil.example","点我")\n<script>alert(1)</script>'
    mine = raised(client, people, text=text)
    assert client.get(f"{API}/mine", headers=people.auth("owner")).get_json()["submissions"][0]["text"] == text
    post(client, people, "reporter", f"{API}/{mine['id']}/accept", {})
    content = client.get("/api/v1/items/export.xlsx", headers=people.auth("reporter")).data
    sheet = load_workbook(BytesIO(content)).active
    assert sheet is not None
    cells = [
        cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str) and "HYPERLINK" in cell.value
    ]
    # Text with a quote prefix: shown as typed, never run as a formula.
    assert cells and all(cell.data_type == "s" and cell.quotePrefix for cell in cells)


def test_the_public_form_is_closed_until_an_admin_opens_it(client: FlaskClient, people: People) -> None:
    assert client.post(PUBLIC, json=PROBLEM).status_code == 404
    open_public_form(client, people)
    response = client.post(PUBLIC, json={**PROBLEM, "contact": "138 0000 0000"})
    assert response.status_code == 201
    receipt = response.get_json()["receipt"]
    assert len(receipt) >= 20
    assert client.get(f"{PUBLIC}/{receipt}").get_json() == {
        "kind": "problem",
        "status": "new",
        "item_status": None,
        "item_status_label": None,
    }
    [queued] = client.get(f"{API}?status=new", headers=people.auth("reporter")).get_json()["submissions"]
    assert queued["public"] is True and queued["raised_by"] is None
    item_id = post(client, people, "reporter", f"{API}/{queued['id']}/accept", {}).get_json()["item"]["id"]
    item = client.get(f"/api/v1/items/{item_id}", headers=people.auth("reporter")).get_json()
    shown = client.get(f"{PUBLIC}/{receipt}").get_json()
    assert shown == {
        "kind": "problem",
        "status": "accepted",
        "item_status": item["status"],
        "item_status_label": item["status_label"],
    }
    # Another receipt: its last character changed (to "y" when it already was "x": one receipt in 64).
    assert client.get(f"{PUBLIC}/{receipt[:-1]}{'y' if receipt.endswith('x') else 'x'}").status_code == 404
    log = client.get("/api/v1/audit/admin-log?action=intake.public", headers=people.auth("auditor")).get_json()
    assert [(e["actor"], e["target"]) for e in log["entries"]] == [("admin", "on")]


def test_a_huge_public_body_is_refused_before_it_is_read(client: FlaskClient, people: People) -> None:
    open_public_form(client, people)
    response = client.post(PUBLIC, json={**PROBLEM, "text": "长" * 40000})
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
