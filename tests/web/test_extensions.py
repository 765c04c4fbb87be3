"""Deadline extensions: the owner asks, an approver decides, the diagram's timers follow the new date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.items import workflow
from engine.store.db import transaction
from engine.store.models import Job
from tests.conftest import People

API = "/api/v1"
NOW = "2026-11-25T02:00:00+00:00"


def at_rectify(client: FlaskClient, people: People, deadline: str) -> dict[str, Any]:
    body = {"title": "需要延期的事项", "department": "office", "deadline": deadline}
    item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
    for data in ({"measures": "m"}, {"owner": "owner"}):
        task = item["tasks"][0]["id"]
        item = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth("manager")).json
    return dict(item)


def timer_due(sessions: sessionmaker[Session], item_id: int) -> dt.datetime | None:
    with transaction(sessions) as session:
        return session.scalar(select(Job.due_at).where(Job.item_id == item_id))


def test_a_granted_extension_moves_the_deadline_and_its_timers(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    with time_machine.travel(NOW, tick=False):
        item = at_rectify(client, people, "2026-11-30")
        assert timer_due(sessions, item["id"]) == dt.datetime(2026, 11, 27, 16, tzinfo=dt.UTC)
        url = f"{API}/items/{item['id']}/extensions"
        assert (
            client.post(
                url, json={"new_deadline": "2026-12-20", "reason": "x"}, headers=people.auth("manager")
            ).status_code
            == 403
        )
        asked = client.post(
            url, json={"new_deadline": "2026-12-20", "reason": "材料采购周期长"}, headers=people.auth("owner")
        )
        assert asked.status_code == 201, asked.json
        assert (asked.json["state"], asked.json["current_deadline"]) == ("pending", "2026-11-30")
        again = client.post(url, json={"new_deadline": "2026-12-21", "reason": "再延"}, headers=people.auth("owner"))
        assert (again.status_code, again.json["errors"][0]["field"]) == (422, "new_deadline")
        english = {**people.auth("approver"), "Accept-Language": "en"}
        notified = client.get(f"{API}/notifications", headers=english).json["notifications"]
        assert (notified[0]["kind"], notified[0]["title"], notified[0]["message"]) == (
            "extension_requested",
            "Extension requested: 需要延期的事项",
            "Deadline 2026-11-30 → 2026-12-20 | Reason: 材料采购周期长",
        )

        decision = f"{API}/extensions/{asked.json['id']}/decision"
        assert client.post(decision, json={"decision": "grant"}, headers=people.auth("owner")).status_code == 403
        granted = client.post(decision, json={"decision": "grant", "comment": "同意"}, headers=people.auth("approver"))
        assert (granted.status_code, granted.json["state"], granted.json["decided_by"]) == (200, "granted", "approver")
        twice = client.post(decision, json={"decision": "refuse"}, headers=people.auth("approver2"))
        assert twice.status_code == 422
        detail = client.get(f"{API}/items/{item['id']}", headers=people.auth("owner")).json
        assert detail["deadline"] == "2026-12-20"
        # The warning now comes 3 days before the new deadline.
        assert timer_due(sessions, item["id"]) == dt.datetime(2026, 12, 17, 16, tzinfo=dt.UTC)
        chinese = {**people.auth("owner"), "Accept-Language": "zh-CN,zh;q=0.9"}
        mine = client.get(f"{API}/notifications", headers=chinese).json["notifications"]
        assert (mine[0]["kind"], mine[0]["title"], mine[0]["message"]) == (
            "extension_decided",
            "同意延期：需要延期的事项",
            "新的整改时限：2026年12月20日｜审批意见：同意",
        )

    with time_machine.travel("2026-11-29T02:00:00+00:00", tick=False), transaction(sessions) as session:
        assert workflow.fire_timers(session, item["id"]) == []  # the old warning date no longer counts

    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert [(e["action"], e["actor"]) for e in events[-2:]] == [
        ("extension_requested", "owner"),
        ("extension_granted", "approver"),
    ]
    assert events[-1]["data"]["new_deadline"] == "2026-12-20"


def test_a_refused_extension_changes_nothing_but_the_record(client: FlaskClient, people: People) -> None:
    with time_machine.travel(NOW, tick=False):
        item = at_rectify(client, people, "2026-11-30")
        url = f"{API}/items/{item['id']}/extensions"
        past = client.post(url, json={"new_deadline": "2026-11-20", "reason": "r"}, headers=people.auth("owner"))
        assert (past.status_code, past.json["errors"][0]["field"]) == (422, "new_deadline")
        asked = client.post(url, json={"new_deadline": "2026-12-05", "reason": "r"}, headers=people.auth("owner")).json
        for silent in ({"decision": "refuse"}, {"decision": "refuse", "comment": " "}):
            unexplained = client.post(
                f"{API}/extensions/{asked['id']}/decision", json=silent, headers=people.auth("approver")
            )
            assert (unexplained.status_code, unexplained.json["errors"][0]["field"]) == (422, "comment")
        refused = client.post(
            f"{API}/extensions/{asked['id']}/decision",
            json={"decision": "refuse", "comment": "按期完成"},
            headers=people.auth("approver"),
        )
        assert refused.json["state"] == "refused"
        assert client.get(f"{API}/items/{item['id']}", headers=people.auth("owner")).json["deadline"] == "2026-11-30"
        listed = client.get(url, headers=people.auth("auditor")).json["extensions"]
        assert [(e["new_deadline"], e["state"], e["comment"]) for e in listed] == [
            ("2026-12-05", "refused", "按期完成")
        ]
