"""Joint tasks (联动攻坚): every unit delivers its part, the lead consolidates, a reviewer signs off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import People, serve

API = "/api/v1"


@pytest.fixture
def units(sessions: sessionmaker[Session], people: People) -> People:
    """The cast plus an external unit (市民政局: a manager and a clerk) and a lead manager who also approves."""
    with transaction(sessions) as session:
        identity.add_department(session, "civil", "市民政局", external=True)
        identity.add_user(session, "civil_chief", "civil", ["manager"])
        identity.add_user(session, "civil_clerk", "civil", ["member"])
        identity.add_user(session, "lead_boss", "office", ["manager", "approver"])
        tokens = {name: identity.create_token(session, name) for name in ("civil_chief", "civil_clerk", "lead_boss")}
    return People({**people.tokens, **tokens})


def create(client: FlaskClient, people: People, co: list[str], title: str = "背街小巷环境整治") -> dict[str, Any]:
    body = {"title": title, "department": "office", "co_departments": co}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def task_for(item: dict[str, Any], name: str, unit: str | None = None) -> dict[str, Any]:
    (task,) = [t for t in item["tasks"] if t["name"] == name and (unit is None or t["unit"] == unit)]
    return task


def complete(client: FlaskClient, people: People, user: str, task: dict[str, Any], data: dict[str, Any]) -> Any:
    return client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(user))


def step(client: FlaskClient, people: People, user: str, task: dict[str, Any], data: dict[str, Any]) -> Any:
    response = complete(client, people, user, task, data)
    assert response.status_code == 200, response.json
    return response.json


def parts(item: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    return [(p["department"]["code"], p["state"], p["actor"], p["contribution"]) for p in item["parts"]]


def test_a_joint_task_from_parts_to_close_out_with_a_partial_send_back(client: FlaskClient, units: People) -> None:
    item = create(client, units, ["works", "civil"])
    assert (item["process"]["key"], item["status"]) == ("joint_task", "units")
    assert [d["code"] for d in item["co_departments"]] == ["works", "civil"]
    assert item["progress"] == {"done": 0, "total": 3}
    assert parts(item) == [
        ("office", "pending", None, None),
        ("works", "pending", None, None),
        ("civil", "pending", None, None),
    ]
    civil = task_for(item, "unit_contribution", "civil")
    assert civil["candidates"] == ["civil_chief"]

    # A unit cannot deliver another unit's part; a member delivers it once his manager assigns him.
    assert complete(client, units, "works_manager", civil, {"contribution": "x"}).status_code == 403
    assert complete(client, units, "civil_clerk", civil, {"contribution": "x"}).status_code == 403
    assign = f"{API}/tasks/{civil['id']}/assign"
    assert client.post(assign, json={"assignee": "civil_chief"}, headers=units.auth("civil_clerk")).status_code == 403
    outsider = client.post(assign, json={"assignee": "outsider"}, headers=units.auth("civil_chief"))
    # A person outside the unit is a refused delegation (403, logged), naming the field.
    assert (outsider.status_code, outsider.json["errors"][0]["field"]) == (403, "assignee")
    assigned = client.post(assign, json={"assignee": "civil_clerk"}, headers=units.auth("civil_chief"))
    assert assigned.status_code == 200, assigned.json
    assert task_for(assigned.json, "unit_contribution", "civil")["candidates"] == ["civil_chief", "civil_clerk"]
    notified = client.get(f"{API}/notifications", headers=units.auth("civil_clerk")).json["notifications"]
    assert [n["kind"] for n in notified] == ["assigned"]
    item = step(client, units, "civil_clerk", civil, {"contribution": "排查低保户"})
    item = step(
        client, units, "works_manager", task_for(item, "unit_contribution", "works"), {"contribution": "修缮路面"}
    )
    assert item["progress"] == {"done": 2, "total": 3}
    assert item["status"] == "units"
    item = step(
        client,
        units,
        "manager",
        task_for(item, "unit_contribution", "office"),
        {"contribution": "统筹协调", "attachments": ["a.pdf"]},
    )
    assert item["progress"] == {"done": 3, "total": 3}
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("consolidating", ["consolidate"])
    assert parts(item)[0] == ("office", "done", "manager", "统筹协调")
    assert item["parts"][0]["data"] == {"contribution": "统筹协调", "attachments": ["a.pdf"]}

    item = step(client, units, "lead_boss", task_for(item, "consolidate"), {"summary": "三单位均已完成"})
    review = task_for(item, "review")
    assert "lead_boss" not in review["candidates"]  # never the consolidator
    assert complete(client, units, "lead_boss", review, {"decision": "approve"}).status_code == 403

    bad = complete(
        client, units, "approver", review, {"decision": "reject", "comment": "重办", "redo_departments": ["nowhere"]}
    )
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "data.redo_departments.0"
    contradictory = complete(client, units, "approver", review, {"decision": "approve", "redo_departments": ["works"]})
    assert contradictory.status_code == 422

    # Send one unit back: only its part reopens, the others stay done.
    item = step(
        client,
        units,
        "approver",
        review,
        {"decision": "reject", "comment": "路面未验收", "redo_departments": ["works"]},
    )
    assert item["status"] == "units"
    assert [(t["name"], t["unit"]) for t in item["tasks"]] == [("unit_contribution", "works")]
    assert item["progress"] == {"done": 2, "total": 3}
    assert [p[1] for p in parts(item)] == ["done", "pending", "done"]
    item = step(
        client, units, "works_manager", task_for(item, "unit_contribution", "works"), {"contribution": "已验收"}
    )
    assert parts(item)[1] == ("works", "done", "works_manager", "已验收")

    # Back to the lead unit without redoing any part, then approve.
    item = step(client, units, "lead_boss", task_for(item, "consolidate"), {"summary": "再次汇总"})
    item = step(client, units, "approver", task_for(item, "review"), {"decision": "reject", "comment": "汇总不全"})
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("consolidating", ["consolidate"])
    item = step(client, units, "manager", task_for(item, "consolidate"), {"summary": "完整汇总"})
    item = step(client, units, "approver2", task_for(item, "review"), {"decision": "approve"})
    assert (item["status"], item["tasks"], item["progress"]) == ("closed", [], {"done": 3, "total": 3})

    events = client.get(f"{API}/items/{item['id']}/history", headers=units.auth("auditor")).json["events"]
    assert [(e["actor"], e["task"]) for e in events] == [
        ("reporter", None),
        ("civil_chief", "unit_contribution"),
        ("civil_clerk", "unit_contribution"),
        ("works_manager", "unit_contribution"),
        ("manager", "unit_contribution"),
        ("lead_boss", "consolidate"),
        ("approver", "review"),
        ("works_manager", "unit_contribution"),
        ("lead_boss", "consolidate"),
        ("approver", "review"),
        ("manager", "consolidate"),
        ("approver2", "review"),
    ]
    assert events[0]["data"]["co_departments"] == ["works", "civil"]
    assert (events[1]["action"], events[1]["data"]) == ("assigned", {"assignee": "civil_clerk", "unit": "civil"})
    assert events[6]["data"]["redo_departments"] == ["works"]


def test_a_manager_naming_co_units_grows_the_default_item_a_joint_stage(client: FlaskClient, units: People) -> None:
    body = {"title": "老旧小区管网改造", "department": "office"}
    item = client.post(f"{API}/items", json=body, headers=units.auth("reporter")).json
    assert (item["process"]["key"], item["co_departments"], item["progress"]) == ("rectification_item", [], None)
    url = f"{API}/items/{item['id']}"
    assert client.get(url, headers=units.auth("civil_clerk")).status_code == 404

    measures = task_for(item, "define_measures")
    unknown = complete(client, units, "manager", measures, {"measures": "分段改造", "co_departments": ["nowhere"]})
    assert (unknown.status_code, unknown.json["errors"][0]["field"]) == (422, "data.co_departments.0")
    # The lead unit named among its co-units takes part once.
    data = {"measures": "分段改造", "co_departments": ["works", "office", "civil"]}
    item = step(client, units, "manager", measures, data)
    assert (item["process"]["key"], item["status"]) == ("rectification_item", "units")
    assert [d["code"] for d in item["co_departments"]] == ["works", "civil"]
    assert [p[:2] for p in parts(item)] == [("office", "pending"), ("works", "pending"), ("civil", "pending")]
    assert task_for(item, "unit_contribution", "civil")["candidates"] == ["civil_chief"]
    # A co-unit now sees the item it takes part in, and has its part in the inbox.
    assert client.get(url, headers=units.auth("civil_clerk")).status_code == 200
    inbox = client.get(f"{API}/tasks", headers=units.auth("civil_chief")).json["tasks"]
    assert [(t["item_id"], t["name"]) for t in inbox] == [(item["id"], "unit_contribution")]

    for user, unit in (("manager", "office"), ("works_manager", "works"), ("civil_chief", "civil")):
        item = step(client, units, user, task_for(item, "unit_contribution", unit), {"contribution": f"{unit} 已改造"})
    item = step(client, units, "manager", task_for(item, "consolidate"), {"summary": "三单位均已完成"})
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("review", ["joint_review"])
    reject = {"decision": "reject", "comment": "雨污未分流", "redo_departments": ["works"]}
    item = step(client, units, "approver", task_for(item, "joint_review"), reject)
    assert [(t["name"], t["unit"]) for t in item["tasks"]] == [("unit_contribution", "works")]
    assert [p[1] for p in parts(item)] == ["done", "pending", "done"]
    item = step(
        client, units, "works_manager", task_for(item, "unit_contribution", "works"), {"contribution": "已分流"}
    )
    item = step(client, units, "manager", task_for(item, "consolidate"), {"summary": "已整改"})
    item = step(client, units, "approver", task_for(item, "joint_review"), {"decision": "approve"})
    assert (item["status"], item["tasks"], item["progress"]) == ("closed", [], {"done": 3, "total": 3})

    events = client.get(f"{url}/history", headers=units.auth("auditor")).json["events"]
    named = [e for e in events if e["task"] == "define_measures"]
    assert named[0]["data"]["co_departments"] == ["works", "office", "civil"]
    called = {e["data"]["called"]["key"] for e in events if e["task"] in ("unit_contribution", "consolidate")}
    assert called == {"joint_stage"}
    assert [e["task"] for e in events if e["task"] in ("rectify", "assign_owner")] == []


def test_a_second_sign_off_sends_a_joint_item_back_to_its_lead_unit(client: FlaskClient, units: People) -> None:
    body = {"title": "危房排查", "department": "office", "severity": "严重"}
    item = client.post(f"{API}/items", json=body, headers=units.auth("reporter")).json
    item = step(
        client,
        units,
        "manager",
        task_for(item, "define_measures"),
        {"measures": "联合排查", "co_departments": ["works"]},
    )
    for user, unit in (("manager", "office"), ("works_manager", "works")):
        item = step(client, units, user, task_for(item, "unit_contribution", unit), {"contribution": "已排查"})
    item = step(client, units, "manager", task_for(item, "consolidate"), {"summary": "排查完毕"})
    item = step(client, units, "approver", task_for(item, "joint_review"), {"decision": "approve"})
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("head_review", ["head_review"])
    item = step(
        client, units, "lead_boss", task_for(item, "head_review"), {"decision": "reject", "comment": "缺少台账"}
    )
    # Back to the lead unit's consolidation: no unit redoes its part, and no owner appears.
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("consolidating", ["consolidate"])
    assert [p[1] for p in parts(item)] == ["done", "done"]
    item = step(client, units, "manager", task_for(item, "consolidate"), {"summary": "补充台账"})
    item = step(client, units, "approver", task_for(item, "joint_review"), {"decision": "approve"})
    item = step(client, units, "lead_boss", task_for(item, "head_review"), {"decision": "approve"})
    assert item["status"] == "closed"


def test_no_item_starts_on_the_joint_stage_itself(client: FlaskClient, people: People) -> None:
    body = {"title": "只走联动阶段", "department": "office", "co_departments": ["works"], "process": "joint_stage"}
    refused = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json["errors"][0]["field"] == "process"
    assert "isStartableInTasklist" in refused.json["errors"][0]["message"]
    assert client.get(f"{API}/items", headers=people.auth("auditor")).json["total"] == 0


def test_an_external_unit_sees_only_what_it_takes_part_in(client: FlaskClient, units: People) -> None:
    joint = create(client, units, ["civil"], title="联合整治")
    other = create(client, units, ["works"], title="别的事项")
    listed = client.get(f"{API}/items", headers=units.auth("civil_clerk")).json
    assert [i["title"] for i in listed["items"]] == ["联合整治"]
    assert client.get(f"{API}/items/{other['id']}", headers=units.auth("civil_clerk")).status_code == 404
    inbox = client.get(f"{API}/tasks", headers=units.auth("civil_chief")).json["tasks"]
    assert [(t["item_id"], t["unit"]) for t in inbox] == [(joint["id"], "civil")]
    # The co-unit sees the joint item, the item of another unit not at all.
    assert client.get(f"{API}/items/{joint['id']}", headers=units.auth("works_manager")).status_code == 404
    assert client.get(f"{API}/items/{other['id']}", headers=units.auth("works_manager")).status_code == 200


@pytest.mark.parametrize(
    ("co", "field"),
    [(["nowhere"], "co_departments"), (["office"], "co_departments"), (["works", "works"], "co_departments")],
)
def test_co_units_must_be_known_and_named_once(client: FlaskClient, people: People, co: list[str], field: str) -> None:
    response = client.post(
        f"{API}/items",
        json={"title": "t", "department": "office", "co_departments": co},
        headers=people.auth("reporter"),
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == field
    assert client.get(f"{API}/items", headers=people.auth("auditor")).json["total"] == 0


# --- twenty units at the same instant ---------------------------------------------------------------------------------

UNITS = 20


@pytest.fixture
def twenty(sessions: sessionmaker[Session], people: People) -> Iterator[dict[str, str]]:
    """Tokens of one manager in each of 19 co-units (the lead is office, whose manager is in the cast)."""
    with transaction(sessions) as session:
        tokens = {"office": people.tokens["manager"]}
        for n in range(1, UNITS):
            identity.add_department(session, f"u{n:02}", f"配合单位{n:02}")
            identity.add_user(session, f"u{n:02}_manager", f"u{n:02}", ["manager"])
            tokens[f"u{n:02}"] = identity.create_token(session, f"u{n:02}_manager")
    yield tokens


def race(bases: list[str], people: People, tokens: dict[str, str]) -> tuple[dict[str, Any], list[int]]:
    body = {
        "title": "二十个单位同题共答",
        "department": "office",
        "co_departments": [u for u in tokens if u != "office"],
    }
    item = requests.post(f"{bases[0]}{API}/items", json=body, headers=people.auth("reporter"), timeout=60).json()
    tasks = {t["unit"]: t["id"] for t in item["tasks"]}
    assert len(tasks) == UNITS
    start = threading.Barrier(UNITS)

    def submit(n_unit: tuple[int, str]) -> int:
        n, unit = n_unit
        with requests.Session() as http:
            start.wait(timeout=60)
            return http.post(
                f"{bases[n % len(bases)]}{API}/tasks/{tasks[unit]}/complete",
                json={"data": {"contribution": f"{unit} 的答卷"}},
                headers={"Authorization": f"Bearer {tokens[unit]}"},
                timeout=120,
            ).status_code

    with ThreadPoolExecutor(UNITS) as pool:
        codes = list(pool.map(submit, enumerate(tokens)))
    after = requests.get(f"{bases[0]}{API}/items/{item['id']}", headers=people.auth("auditor"), timeout=60).json()
    return after, codes


def assert_every_part_recorded_once(base: str, people: People, item: dict[str, Any], codes: list[int]) -> None:
    assert codes == [200] * UNITS
    assert item["progress"] == {"done": UNITS, "total": UNITS}
    assert all(p["contribution"] == f"{p['department']['code']} 的答卷" for p in item["parts"])
    assert [t["name"] for t in item["tasks"]] == ["consolidate"]
    events = requests.get(f"{base}{API}/items/{item['id']}/history", headers=people.auth("auditor"), timeout=60).json()
    contributions = [e["data"]["contribution"] for e in events["events"] if e["task"] == "unit_contribution"]
    assert sorted(contributions) == sorted(
        f"{unit} 的答卷" for unit in [p["department"]["code"] for p in item["parts"]]
    )
    assert item["status"] == "consolidating"


def test_twenty_units_submitting_at_once_are_all_recorded_exactly_once(
    live_server: str, people: People, twenty: dict[str, str]
) -> None:
    item, codes = race([live_server], people, twenty)
    assert_every_part_recorded_once(live_server, people, item, codes)


def test_two_server_processes_on_one_database_share_the_twenty_submissions(
    database_url: str, people: People, twenty: dict[str, str], tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "a") as first, serve(database_url, tmp_path / "b") as second:
        item, codes = race([first, second], people, twenty)
        assert_every_part_recorded_once(first, people, item, codes)


def test_a_joint_task_past_its_deadline_is_escalated_at_once(client: FlaskClient, units: People) -> None:
    body = {"title": "已逾期的联动事项", "department": "office", "co_departments": ["works"], "deadline": "2020-01-10"}
    item = client.post(f"{API}/items", json=body, headers=units.auth("reporter")).json
    assert (item["status"], item["overdue"]) == ("units", True)
    events = client.get(f"{API}/items/{item['id']}/history", headers=units.auth("auditor")).json["events"]
    assert [(e["action"], e["task"], e["data"].get("kind")) for e in events[1:]] == [
        ("escalation", "deadline_warning", "warning"),
        ("escalation", "deadline_overdue", "overdue"),
    ]
    kinds = [n["kind"] for n in client.get(f"{API}/notifications", headers=units.auth("manager")).json["notifications"]]
    assert sorted(kinds) == ["overdue", "task", "warning"]
