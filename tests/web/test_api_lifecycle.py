"""The whole default lifecycle over the API, including reject and resubmit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.conftest import People


def create(client: FlaskClient, people: People, **fields: Any) -> dict[str, Any]:
    body = {"title": "窗口服务排队时间长", "department": "office", "source": "群众反映", **fields}
    response = client.post("/api/v1/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def complete(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    (task,) = item["tasks"]
    return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(user))


def advance(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    response = complete(client, people, user, item, data)
    assert response.status_code == 200, response.json
    return response.json


def test_item_goes_from_identified_to_closed_through_a_rejection(client: FlaskClient, people: People) -> None:
    item = create(client, people, deadline="2026-12-31", category="作风建设")
    assert item["status"] == "identified"
    assert item["process"] == {"key": "rectification_item", "version": 1}
    assert item["deadline"] == "2026-12-31"
    assert [(t["name"], t["state"], t["candidates"]) for t in item["tasks"]] == [
        ("define_measures", "ready", ["manager"])
    ]

    item = advance(client, people, "manager", item, {"measures": "增设自助取号机"})
    assert item["status"] == "measures"
    item = advance(client, people, "manager", item, {"owner": "owner"})
    assert (item["status"], item["owner"]) == ("owner", "owner")
    assert item["tasks"][0]["candidates"] == ["owner"]
    item = advance(client, people, "owner", item, {"result": "已增设两台取号机"})
    assert item["status"] == "review"
    assert item["tasks"][0]["candidates"] == ["approver", "approver2", "owner_approver"]

    item = advance(client, people, "approver", item, {"decision": "reject", "comment": "缺少照片佐证"})
    assert (item["status"], item["tasks"][0]["name"]) == ("owner", "rectify")
    assert item["data"]["comment"] == "缺少照片佐证"
    item = advance(client, people, "owner", item, {"result": "已补充照片", "evidence": "photo-1.jpg"})
    item = advance(client, people, "approver2", item, {"decision": "approve"})
    assert item["status"] == "closed"
    assert item["tasks"] == []
    assert item["closed_at"] is not None

    events = client.get(f"/api/v1/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert [(e["seq"], e["actor"], e["action"], e["task"]) for e in events] == [
        (1, "reporter", "created", None),
        (2, None, "decision", "decide_deadline"),  # 一般: no second sign-off, so the first approval closes it
        (3, "manager", "completed", "define_measures"),
        (4, "manager", "completed", "assign_owner"),
        (5, "owner", "completed", "rectify"),
        (6, "approver", "completed", "review"),
        (7, "owner", "completed", "rectify"),
        (8, "approver2", "completed", "review"),
    ]
    assert events[1]["data"]["outputs"] == {"deadline_days": 60, "second_approver": False}
    assert events[5]["data"] == {"decision": "reject", "comment": "缺少照片佐证"}
    assert (events[5]["status_from"], events[5]["status_to"]) == ("review", "owner")
    assert events[-1]["status_to"] == "closed"


def test_get_item_has_an_etag_that_changes_with_every_step(client: FlaskClient, people: People) -> None:
    item = create(client, people)
    first = client.get(f"/api/v1/items/{item['id']}", headers=people.auth("manager"))
    advance(client, people, "manager", item, {"measures": "m"})
    second = client.get(f"/api/v1/items/{item['id']}", headers=people.auth("manager"))
    assert first.headers["ETag"] and second.headers["ETag"]
    assert first.headers["ETag"] != second.headers["ETag"]
    assert second.json["status"] == "measures"


def test_stale_if_match_is_refused_with_412_and_changes_nothing(client: FlaskClient, people: People) -> None:
    item = create(client, people)
    etag = client.get(f"/api/v1/items/{item['id']}", headers=people.auth("manager")).headers["ETag"]
    item = advance(client, people, "manager", item, {"measures": "m"})
    (task,) = item["tasks"]
    stale = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"owner": "owner"}},
        headers={**people.auth("manager"), "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    fresh = client.get(f"/api/v1/items/{item['id']}", headers=people.auth("manager"))
    assert fresh.json["status"] == "measures"
    ok = client.post(
        f"/api/v1/tasks/{task['id']}/complete",
        json={"data": {"owner": "owner"}},
        headers={**people.auth("manager"), "If-Match": fresh.headers["ETag"]},
    )
    assert ok.status_code == 200


def test_inbox_lists_the_ready_tasks_the_caller_may_complete(client: FlaskClient, people: People) -> None:
    first = create(client, people, title="一")
    second = create(client, people, title="二")
    advance(client, people, "manager", second, {"measures": "m"})

    def inbox(user: str) -> list[tuple[int, str]]:
        tasks = client.get("/api/v1/tasks", headers=people.auth(user)).json["tasks"]
        return [(t["item_id"], t["name"]) for t in tasks]

    assert inbox("manager") == [(first["id"], "define_measures"), (second["id"], "assign_owner")]
    assert inbox("works_manager") == []
    assert inbox("approver") == []
    assert inbox("reporter") == []


def test_the_inbox_is_paged_with_the_overdue_items_tasks_first(client: FlaskClient, people: People) -> None:
    first = create(client, people, title="一", deadline="2030-06-30")
    second = create(client, people, title="二", deadline="2030-06-30")
    late = create(client, people, title="三", deadline="2030-01-10")

    def page(query: str) -> Any:
        return client.get(f"/api/v1/tasks?{query}", headers=people.auth("manager")).json

    with time_machine.travel("2030-02-01T04:00:00+00:00", tick=False):
        one, two = page("per_page=2"), page("per_page=2&page=2")
        everything = page("")
    assert [t["item_id"] for t in one["tasks"]] == [late["id"], first["id"]]
    assert (one["total"], one["page"], one["per_page"]) == (3, 1, 2)
    assert [t["item_id"] for t in two["tasks"]] == [second["id"]]
    assert (everything["total"], everything["per_page"], len(everything["tasks"])) == (3, 50, 3)
    # Before the deadline passed, the oldest came first.
    assert [t["item_id"] for t in page("")["tasks"]] == [first["id"], second["id"], late["id"]]
    for wrong in ("per_page=0", "per_page=201", "page=0", "page=x"):
        refused = client.get(f"/api/v1/tasks?{wrong}", headers=people.auth("manager"))
        assert refused.status_code == 422, wrong
        assert [e["field"] for e in refused.json["errors"]] == [wrong.partition("=")[0]]


def test_list_items_filters_and_paginates(client: FlaskClient, people: People) -> None:
    for n in range(5):
        create(client, people, title=f"问题 {n}")
    create(client, people, title="工务科的问题", department="works")
    page = client.get("/api/v1/items?per_page=2&page=2", headers=people.auth("auditor")).json
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (6, 2, 2, 2)
    office = client.get("/api/v1/items?department=office", headers=people.auth("auditor")).json
    assert office["total"] == 5
    found = client.get("/api/v1/items?q=工务", headers=people.auth("auditor")).json
    assert [i["title"] for i in found["items"]] == ["工务科的问题"]
    identified = client.get("/api/v1/items?status=identified", headers=people.auth("auditor")).json
    assert identified["total"] == 6
    assert client.get("/api/v1/items?status=closed", headers=people.auth("auditor")).json["total"] == 0


def test_units_see_their_own_items_only(client: FlaskClient, people: People) -> None:
    office = create(client, people, title="办公室问题")
    works = create(client, people, title="工务问题", department="works")
    titles = [i["title"] for i in client.get("/api/v1/items", headers=people.auth("works_manager")).json["items"]]
    assert titles == ["工务问题"]
    assert client.get(f"/api/v1/items/{office['id']}", headers=people.auth("works_manager")).status_code == 404
    assert client.get(f"/api/v1/items/{works['id']}", headers=people.auth("works_manager")).status_code == 200
    assert client.get("/api/v1/items", headers=people.auth("auditor")).json["total"] == 2


def test_an_item_is_raised_with_each_severity_and_its_process_starts_with_it(
    client: FlaskClient, people: People
) -> None:
    auth = people.auth("auditor")
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        assert create(client, people)["severity"] == "一般"  # not given
        # Its decision table gives each severity its deadline (days from today) and says who signs off.
        for severity, days, second in (("一般", 60, False), ("较重", 30, False), ("严重", 15, True)):
            item = create(client, people, severity=severity, category="作风建设" if severity == "严重" else None)
            assert item["severity"] == severity
            assert (item["data"]["severity"], item["data"]["category"]) == (severity, item["category"] or "")
            assert item["deadline"] == (dt.date(2026, 11, 25) + dt.timedelta(days=days)).isoformat()
            created, decided = client.get(f"/api/v1/items/{item['id']}/history", headers=auth).json["events"]
            assert (created["data"]["severity"], created["data"]["deadline"]) == (severity, item["deadline"])
            assert decided["data"]["inputs"] == {
                "问题类别 Category": item["category"] or "",
                "严重程度 Severity": severity,
            }
            assert decided["data"]["outputs"] == {"deadline_days": days, "second_approver": second}
    body = {"title": "t", "department": "office", "severity": "很严重"}
    refused = client.post("/api/v1/items", json=body, headers=people.auth("reporter"))
    assert refused.status_code == 422
    (error,) = refused.json["errors"]
    assert error["field"] == "severity" and all(value in error["message"] for value in ("一般", "较重", "严重"))
    listed = client.get("/api/v1/items?severity=较重", headers=auth).json["items"]
    assert [item["severity"] for item in listed] == ["较重"]
    spec = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert spec["ItemCreate"]["properties"]["severity"]["enum"] == ["一般", "较重", "严重"]
