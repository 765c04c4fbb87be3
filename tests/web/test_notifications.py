"""In-app notifications: tasks for me or my unit, rejections with their reason, deadline escalations; each said
in the language the request prefers."""

from __future__ import annotations

from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.conftest import People

API = "/api/v1"


def inbox(client: FlaskClient, people: People, user: str) -> list[tuple[str, str]]:
    headers = {**people.auth(user), "Accept-Language": "zh"}
    found = client.get(f"{API}/notifications", headers=headers).json["notifications"]
    return [(n["kind"], n["title"]) for n in found]


def step(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    task = item["tasks"][0]["id"]
    response = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth(user))
    assert response.status_code == 200, response.json
    return response.json


def test_people_hear_of_their_tasks_and_of_rejections_newest_first(client: FlaskClient, people: People) -> None:
    body = {"title": "路灯不亮", "department": "office"}
    item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
    assert inbox(client, people, "manager") == [("task", "新的待办：路灯不亮")]
    assert inbox(client, people, "works_manager") == []
    item = step(client, people, "manager", item, {"measures": "更换灯泡"})
    item = step(client, people, "manager", item, {"owner": "owner"})
    item = step(client, people, "owner", item, {"result": "已更换"})
    assert inbox(client, people, "approver") == [("task", "新的待办：路灯不亮")]
    step(client, people, "approver", item, {"decision": "reject", "comment": "仍有两盏不亮"})

    found = client.get(f"{API}/notifications", headers=people.auth("owner")).json["notifications"]
    assert [(n["kind"], n["read"]) for n in found] == [("rejection", False), ("task", False)]
    assert "仍有两盏不亮" in found[0]["message"]
    assert found[0]["item_id"] == item["id"]

    read = client.post(f"{API}/notifications/{found[0]['id']}/read", headers=people.auth("owner"))
    assert (read.status_code, read.json["read"]) == (200, True)
    assert [
        n["read"] for n in client.get(f"{API}/notifications", headers=people.auth("owner")).json["notifications"]
    ] == [
        True,
        False,
    ]
    # Someone else's notification is not yours to read.
    assert client.post(f"{API}/notifications/{found[1]['id']}/read", headers=people.auth("manager")).status_code == 404


def test_managers_and_approvers_hear_of_an_overdue_item(client: FlaskClient, people: People) -> None:
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        body = {"title": "逾期事项", "department": "office", "deadline": "2026-11-20"}
        item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
        item = step(client, people, "manager", item, {"measures": "m"})
        step(client, people, "manager", item, {"owner": "owner"})
    kinds = [kind for kind, _ in inbox(client, people, "approver")]
    assert kinds.count("overdue") == 1 and kinds.count("warning") == 1
    assert [kind for kind, _ in inbox(client, people, "manager") if kind in ("warning", "overdue")] == [
        "overdue",
        "warning",
    ]
    assert [kind for kind, _ in inbox(client, people, "works_manager")] == []
    assert ("overdue", "逾期督办：逾期事项") in inbox(client, people, "approver2")


def test_a_rejection_is_said_in_the_language_asked_for_and_keeps_what_happened(
    client: FlaskClient, people: People
) -> None:
    body = {"title": "路灯不亮", "department": "office"}
    item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
    item = step(client, people, "manager", item, {"measures": "更换灯泡"})
    item = step(client, people, "manager", item, {"owner": "owner"})
    item = step(client, people, "owner", item, {"result": "已更换"})
    step(client, people, "approver", item, {"decision": "reject", "comment": "仍有两盏不亮"})

    def rejection(accept: dict[str, str]) -> dict[str, Any]:
        headers = {**people.auth("owner"), **accept}
        found: dict[str, Any] = client.get(f"{API}/notifications", headers=headers).json["notifications"][0]
        return found

    english = rejection({"Accept-Language": "en-GB,en;q=0.8"})
    assert (english["title"], english["message"]) == ("Sent back: 路灯不亮", "Rectify | Reason: 仍有两盏不亮")
    chinese = rejection({"Accept-Language": "zh-CN"})
    assert (chinese["title"], chinese["message"]) == ("被退回：路灯不亮", "整改落实｜退回原因：仍有两盏不亮")
    # Asked for neither: both, Chinese first.
    both = rejection({})
    assert both["title"] == "被退回：路灯不亮 / Sent back: 路灯不亮"
    assert both["message"] == "整改落实｜退回原因：仍有两盏不亮\nRectify | Reason: 仍有两盏不亮"
    assert (both["kind"], both["data"]) == (
        "rejection",
        {"item": "路灯不亮", "task": "整改落实 Rectify", "reason": "仍有两盏不亮"},
    )
    read = client.post(
        f"{API}/notifications/{both['id']}/read", headers={**people.auth("owner"), "Accept-Language": "en"}
    )
    assert (read.json["title"], read.json["read"]) == ("Sent back: 路灯不亮", True)
