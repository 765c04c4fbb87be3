"""An administrator withdraws (撤销) or corrects (更正) an item registered by mistake, with a reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit
from engine.store.db import transaction
from engine.store.models import Job
from tests.conftest import People

API = "/api/v1"
NOW = "2026-11-25T02:00:00+00:00"


def raised(client: FlaskClient, people: People, **extra: Any) -> dict[str, Any]:
    body = {"title": "登记错了的事项", "department": "office", "deadline": "2026-12-31", **extra}
    created = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert created.status_code == 201, created.json
    return dict(created.json)


def timer_due(sessions: sessionmaker[Session], item_id: int) -> dt.datetime | None:
    with transaction(sessions) as session:
        return session.scalar(select(Job.due_at).where(Job.item_id == item_id, Job.kind == "timer"))


def raised_this_xun(client: FlaskClient, people: People) -> int:
    period = {"period": "2026-11-3"}
    report = client.get(f"{API}/reports/dispatch", query_string=period, headers=people.auth("approver"))
    return int(report.json["total"]["raised"])


def test_only_an_admin_withdraws_and_only_with_a_reason(client: FlaskClient, people: People) -> None:
    item = raised(client, people)
    url = f"{API}/items/{item['id']}/withdraw"
    for who in ("reporter", "manager", "approver", "auditor"):
        refused = client.post(url, json={"reason": "登记错误"}, headers=people.auth(who))
        assert (refused.status_code, refused.mimetype) == (403, "application/problem+json")
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        missing = client.post(url, json=body, headers=people.auth("admin"))
        assert (missing.status_code, missing.mimetype) == (422, "application/problem+json")
        assert [error["field"] for error in missing.json["errors"]] == ["reason"]
    stale = client.post(url, json={"reason": "x"}, headers={**people.auth("admin"), "If-Match": '"0-0"'})
    assert stale.status_code == 412
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json["status"] != "withdrawn"


def test_a_withdrawn_item_stops_leaves_inboxes_and_figures_and_keeps_its_history(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    with time_machine.travel(NOW, tick=False):
        item = raised(client, people)
        for data in ({"measures": "m"}, {"owner": "owner"}):
            task = client.get(f"{API}/items/{item['id']}", headers=people.auth("manager")).json["tasks"][0]["id"]
            client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth("manager"))
        assert raised_this_xun(client, people) == 1
        tasks = client.get(f"{API}/tasks", headers=people.auth("owner")).json["tasks"]
        task = next(task["id"] for task in tasks if task["item_id"] == item["id"])
        assert timer_due(sessions, item["id"]) is not None
        etag = client.get(f"{API}/items/{item['id']}", headers=people.auth("admin")).headers["ETag"]
        done = client.post(
            f"{API}/items/{item['id']}/withdraw",
            json={"reason": "重复登记"},
            headers={**people.auth("admin"), "If-Match": etag},
        )
        assert done.status_code == 200, done.json
        assert (done.json["status"], done.json["status_label"], done.json["tasks"]) == (
            "withdrawn",
            "已撤销 Withdrawn",
            [],
        )
        assert done.headers["ETag"] != etag
        tasks = client.get(f"{API}/tasks", headers=people.auth("owner")).json["tasks"]
        assert item["id"] not in [task["item_id"] for task in tasks]
        late = client.post(f"{API}/tasks/{task}/complete", json={"data": {}}, headers=people.auth("owner"))
        assert late.status_code == 409
        again = client.post(f"{API}/items/{item['id']}/withdraw", json={"reason": "再"}, headers=people.auth("admin"))
        assert (again.status_code, again.json["errors"][0]["field"]) == (422, "item")
        note = client.post(
            f"{API}/items/{item['id']}/progress", json={"note": "仍在推进"}, headers=people.auth("owner")
        )
        assert (note.status_code, note.json["errors"][0]["field"]) == (422, "item")
        assert raised_this_xun(client, people) == 0
        listed = client.get(f"{API}/items", query_string={"status": "withdrawn"}, headers=people.auth("reporter")).json
        assert [found["id"] for found in listed["items"]] == [item["id"]]

    assert timer_due(sessions, item["id"]) is None
    with transaction(sessions) as session:
        assert audit.verify(session).ok
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    last = events[-1]
    assert (last["action"], last["actor"], last["status_to"], last["data"]) == (
        "withdrawn",
        "admin",
        "withdrawn",
        {"reason": "重复登记"},
    )


def test_a_correction_keeps_each_old_and_new_value_and_moves_the_work(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = raised(client, people, source="自查")
    url = f"{API}/items/{item['id']}/correct"
    assert client.post(url, json={"reason": "x", "title": "新"}, headers=people.auth("manager")).status_code == 403
    missing = client.post(url, json={"title": "新标题"}, headers=people.auth("admin"))
    assert (missing.status_code, [e["field"] for e in missing.json["errors"]]) == (422, ["reason"])
    unknown = client.post(url, json={"reason": "r", "department": "nowhere"}, headers=people.auth("admin"))
    assert (unknown.status_code, unknown.json["errors"][0]["field"]) == (422, "department")
    body = {"reason": "单位登记错了", "title": "更正后的事项", "department": "works", "deadline": "2027-01-10"}
    fixed = client.post(url, json=body, headers=people.auth("admin"))
    assert fixed.status_code == 200, fixed.json
    assert (fixed.json["title"], fixed.json["department"]["code"], fixed.json["deadline"]) == (
        "更正后的事项",
        "works",
        "2027-01-10",
    )
    # The first task belongs to the lead unit's managers: now those of the corrected unit.
    office = client.get(f"{API}/tasks", headers=people.auth("manager")).json["tasks"]
    assert item["id"] not in [task["item_id"] for task in office]
    for data in ({"measures": "m"}, {"owner": "outsider"}):
        works = client.get(f"{API}/tasks", headers=people.auth("works_manager")).json["tasks"]
        task = next(task["id"] for task in works if task["item_id"] == item["id"])
        done = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth("works_manager"))
        assert done.status_code == 200, done.json
    assert timer_due(sessions, item["id"]) == dt.datetime(2027, 1, 7, 16, tzinfo=dt.UTC)
    later = client.post(url, json={"reason": "时限写错", "deadline": "2027-01-15"}, headers=people.auth("admin"))
    assert later.status_code == 200, later.json
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    corrected = [event for event in events if event["action"] == "corrected"]
    assert [(event["actor"], event["data"]) for event in corrected] == [
        (
            "admin",
            {
                "reason": "单位登记错了",
                "changes": {
                    "title": {"from": "登记错了的事项", "to": "更正后的事项"},
                    "department": {"from": "office", "to": "works"},
                    "deadline": {"from": "2026-12-31", "to": "2027-01-10"},
                },
            },
        ),
        ("admin", {"reason": "时限写错", "changes": {"deadline": {"from": "2027-01-10", "to": "2027-01-15"}}}),
    ]
    # The warning: 3 days before the end of the new deadline day (office time, UTC+8).
    assert timer_due(sessions, item["id"]) == dt.datetime(2027, 1, 12, 16, tzinfo=dt.UTC)
    with transaction(sessions) as session:
        assert audit.verify(session).ok
    same = client.post(url, json={"reason": "r", "title": "更正后的事项"}, headers=people.auth("admin"))
    assert same.status_code == 422


def test_a_correction_clears_an_optional_field_with_null_and_refuses_to_clear_a_required_one(
    client: FlaskClient, people: People
) -> None:
    item = raised(client, people, source="自查", category="窗口服务", description="详情")
    url = f"{API}/items/{item['id']}/correct"
    for required, empty in (("title", None), ("department", None), ("severity", None), ("severity", "很严重")):
        refused = client.post(url, json={"reason": "r", required: empty}, headers=people.auth("admin"))
        assert (refused.status_code, refused.mimetype) == (422, "application/problem+json")
        assert [error["field"] for error in refused.json["errors"]] == [required]
    severer = client.post(url, json={"reason": "涉及安全", "severity": "较重"}, headers=people.auth("admin"))
    assert (severer.status_code, severer.json["severity"]) == (200, "较重")

    body = {"reason": "来源不详", "source": None, "category": None, "deadline": None}
    cleared = client.post(url, json=body, headers=people.auth("admin"))
    assert cleared.status_code == 200, cleared.json
    shown = {key: cleared.json[key] for key in ("title", "description", "source", "category", "deadline")}
    assert shown == {
        "title": "登记错了的事项",
        "description": "详情",
        "source": None,
        "category": None,
        "deadline": None,
    }
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert events[-2]["data"]["changes"] == {"severity": {"from": "一般", "to": "较重"}}
    assert events[-1]["data"]["changes"] == {
        "source": {"from": "自查", "to": None},
        "category": {"from": "窗口服务", "to": None},
        "deadline": {"from": "2026-12-31", "to": None},
    }
