"""Deadlines (预警/逾期), 长期坚持 items, and progress updates, with the office's clock moved by the test."""

from __future__ import annotations

from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.conftest import People

API = "/api/v1"
# 2026-11-25 10:00 in Beijing.
NOW = "2026-11-25T02:00:00+00:00"


def create(client: FlaskClient, people: People, title: str, **fields: Any) -> dict[str, Any]:
    body = {"title": title, "department": "office", **fields}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def titles(client: FlaskClient, people: People, query: str) -> list[str]:
    listed = client.get(f"{API}/items?{query}&per_page=100", headers=people.auth("auditor")).json
    return sorted(item["title"] for item in listed["items"])


@time_machine.travel(NOW, tick=False)
def test_warning_and_overdue_follow_the_office_calendar(client: FlaskClient, people: People) -> None:
    create(client, people, "昨天到期", deadline="2026-11-24")
    create(client, people, "今天到期", deadline="2026-11-25")
    create(client, people, "三天后到期", deadline="2026-11-28")
    create(client, people, "四天后到期", deadline="2026-11-29")
    create(client, people, "长期坚持", ongoing=True)
    flags = {
        item["title"]: (item["warning"], item["overdue"], item["ongoing"])
        for item in client.get(f"{API}/items", headers=people.auth("auditor")).json["items"]
    }
    assert flags == {
        "昨天到期": (False, True, False),
        "今天到期": (True, False, False),
        "三天后到期": (True, False, False),
        "四天后到期": (False, False, False),
        "长期坚持": (False, False, True),
    }
    assert titles(client, people, "overdue=true") == ["昨天到期"]
    assert titles(client, people, "overdue=false") == ["三天后到期", "今天到期", "四天后到期", "长期坚持"]
    assert titles(client, people, "due_within=3") == ["三天后到期", "今天到期"]
    assert titles(client, people, "due_within=7") == ["三天后到期", "今天到期", "四天后到期"]
    assert titles(client, people, "ongoing=true") == ["长期坚持"]


def test_an_item_is_overdue_the_day_after_its_deadline_and_never_once_closed(
    client: FlaskClient, people: People
) -> None:
    with time_machine.travel("2026-11-30T15:59:00+00:00", tick=False):  # 23:59 in Beijing on the deadline day
        item = create(client, people, "当天到期", deadline="2026-11-30")
        assert (item["warning"], item["overdue"]) == (True, False)
    with time_machine.travel("2026-11-30T16:01:00+00:00", tick=False):  # 00:01 the next day
        item = client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json
        assert (item["warning"], item["overdue"]) == (False, True)
        for user, data in [
            ("manager", {"measures": "m"}),
            ("manager", {"owner": "owner"}),
            ("owner", {"result": "r"}),
            ("approver", {"decision": "approve"}),
        ]:
            task = item["tasks"][0]["id"]
            item = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth(user)).json
        assert (item["status"], item["warning"], item["overdue"]) == ("closed", False, False)
        assert titles(client, people, "overdue=true") == []


def test_an_ongoing_item_cannot_have_a_deadline(client: FlaskClient, people: People) -> None:
    body = {"title": "t", "department": "office", "ongoing": True, "deadline": "2026-12-01"}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "deadline"


def test_progress_updates_by_the_owner_and_the_unit_are_kept_and_shown(client: FlaskClient, people: People) -> None:
    item = create(client, people, "进展报送")
    url = f"{API}/items/{item['id']}/progress"
    first = client.post(
        url, json={"note": "已完成现场勘查", "percent": 30, "plan": "下周完成方案"}, headers=people.auth("manager")
    )
    assert first.status_code == 201, first.json
    assert (first.json["actor"], first.json["percent"], first.json["plan"]) == ("manager", 30, "下周完成方案")
    second = client.post(url, json={"note": "方案已报审"}, headers=people.auth("owner"))
    assert second.status_code == 201

    listed = client.get(url, headers=people.auth("auditor")).json["updates"]
    assert [(u["actor"], u["note"], u["percent"]) for u in listed] == [
        ("owner", "方案已报审", None),
        ("manager", "已完成现场勘查", 30),
    ]
    detail = client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json
    assert detail["latest_progress"]["note"] == "方案已报审"
    assert detail["status"] == "identified"  # no task was completed
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert [(e["action"], e["actor"], e["data"].get("note")) for e in events[1:]] == [
        ("decision", None, None),  # the lifecycle's deadline rule, before anyone reported
        ("progress", "manager", "已完成现场勘查"),
        ("progress", "owner", "方案已报审"),
    ]


def test_only_the_owner_and_the_units_report_progress(client: FlaskClient, people: People) -> None:
    item = create(client, people, "进展权限")
    url = f"{API}/items/{item['id']}/progress"
    for user in ("reporter", "approver", "auditor", "designer", "admin"):
        response = client.post(url, json={"note": "x"}, headers=people.auth(user))
        assert response.status_code == 403, user
    # Another unit does not even see the item; garbage from someone without the right is still 403.
    assert client.post(url, json={"note": "x"}, headers=people.auth("works_manager")).status_code == 404
    garbage = client.post(url, data="{", content_type="application/json", headers=people.auth("approver"))
    assert garbage.status_code == 403
    bad = client.post(url, json={"note": "", "percent": 101}, headers=people.auth("manager"))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"note", "percent"}
    assert client.get(url, headers=people.auth("auditor")).json["updates"] == []
