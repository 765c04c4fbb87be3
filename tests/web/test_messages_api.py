"""BPMN messages through the API: each example of processes/examples deployed, run to its end by messages.

Catch event, receive task, message start and the boundary withdrawal; refusals are problem+json and in
the admin log; an item waiting for a message gets it after the server restarts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PROCESSES, People, deployment, serve
from tests.web.test_login import admin_log
from tests.web.test_permissions import API, assert_problem

EXAMPLES = PROCESSES / "examples"


def deploy_example(client: FlaskClient, people: People, name: str) -> None:
    content = (EXAMPLES / f"{name}.bpmn").read_bytes()
    response = client.post(
        f"{API}/processes",
        data=deployment(content, {}),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def create(client: FlaskClient, people: People, process: str) -> dict[str, Any]:
    body = {"title": "排水设施检测", "department": "office", "process": process}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.json)


def complete(client: FlaskClient, people: People, item: dict[str, Any], user: str) -> dict[str, Any]:
    (task,) = item["tasks"]
    response = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": {}}, headers=people.auth(user))
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.json)


def send(
    client: FlaskClient, people: People, item_id: int, name: str, user: str = "approver", **variables: Any
) -> TestResponse:
    body = {"name": name, "variables": variables}
    return client.post(f"{API}/items/{item_id}/messages", json=body, headers=people.auth(user))


def history(client: FlaskClient, people: People, item_id: int) -> list[dict[str, Any]]:
    response = client.get(f"{API}/items/{item_id}/history", headers=people.auth("auditor"))
    return list(response.json["events"])


def undelivered(client: FlaskClient, people: People) -> list[tuple[str, str, str]]:
    return [
        (e["actor"], e["target"], e["detail"]["name"]) for e in admin_log(client, people, action="message.undelivered")
    ]


def test_a_catch_event_waits_for_its_message_and_the_item_ends(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_catch")
    item = create(client, people, "message_catch")
    assert item["status"] == "inspection_requested"

    early = assert_problem(send(client, people, item["id"], "inspection_result", result="pass"), 409)
    assert "inspection_result" in early["detail"]
    waiting = complete(client, people, item, "manager")
    assert (waiting["status"], waiting["tasks"], waiting["closed_at"]) == ("active", [], None)

    done = send(client, people, item["id"], "inspection_result", result="pass", lab="市检测中心")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.json["status"] == "closed"
    assert done.json["closed_at"] is not None
    assert done.json["data"]["result"] == "pass" and done.json["data"]["lab"] == "市检测中心"
    received = history(client, people, item["id"])[-1]
    assert (received["action"], received["actor"], received["task"]) == (
        "message_received",
        "approver",
        "inspection_result",
    )
    assert received["data"]["message"] == "inspection_result"
    assert received["data"]["variables"] == {"result": "pass", "lab": "市检测中心"}
    # Once caught, nothing waits for it any more: the second one is refused, and logged like the first.
    assert_problem(send(client, people, item["id"], "inspection_result"), 409)
    assert undelivered(client, people) == [("approver", f"item {item['id']}", "inspection_result")] * 2


def test_a_receive_task_waits_then_a_person_reviews(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_receive")
    item = create(client, people, "message_receive")
    assert item["tasks"] == []
    assert_problem(send(client, people, item["id"], "inspection_result"), 409)

    received = send(client, people, item["id"], "site_report", user="admin", findings="已整改到位")
    assert received.status_code == 200, received.get_data(as_text=True)
    assert received.json["status"] == "report_review"
    assert [task["name"] for task in received.json["tasks"]] == ["review_report"]
    done = complete(client, people, received.json, "approver")
    assert (done["status"], done["data"]["findings"]) == ("closed", "已整改到位")


def test_who_may_send_and_what(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_receive")
    item = create(client, people, "message_receive")
    for user in ("manager", "reporter", "designer"):
        assert_problem(send(client, people, item["id"], "site_report", user=user), 403)
    refused = assert_problem(send(client, people, item["id"], "site_report", owner="owner"), 422)
    assert refused["errors"][0]["field"] == "variables.owner"
    missing = assert_problem(send(client, people, 999_999, "site_report"), 404)
    assert "999999" in missing["detail"]
    assert undelivered(client, people) == [("approver", "item 999999", "site_report")]
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("approver")).json["tasks"] == []


def test_a_message_cannot_change_the_items_category_or_severity(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_receive")
    item = create(client, people, "message_receive")
    for variables in ({"category": "消防安全"}, {"severity": "严重"}):
        refused = assert_problem(send(client, people, item["id"], "site_report", **variables), 422)
        assert [e["field"] for e in refused["errors"]] == [f"variables.{name}" for name in variables]
        assert next(iter(variables)) in refused["detail"]
    kept = client.get(f"{API}/items/{item['id']}", headers=people.auth("approver")).json
    assert (kept["status"], kept["data"]["category"], kept["data"]["severity"]) == ("active", "", "一般")


def start(client: FlaskClient, people: People, user: str = "reporter", **body: Any) -> TestResponse:
    return client.post(f"{API}/messages", json=body, headers=people.auth(user))


def test_a_message_starts_an_item_and_its_business_key_correlates_later_ones(
    client: FlaskClient, people: People
) -> None:
    deploy_example(client, people, "message_start")
    variables = {"title": "热线反映路灯不亮", "department": "office", "severity": "较重", "channel": "12345"}
    started = start(client, people, name="submission_accepted", variables=variables, business_key="intake-7")
    assert started.status_code == 201, started.get_data(as_text=True)
    item = started.json
    assert (item["title"], item["department"]["code"], item["status"]) == ("热线反映路灯不亮", "office", "handling")
    assert (item["severity"], item["data"]["severity"]) == ("较重", "较重")  # an item field, and its variable
    assert item["data"]["channel"] == "12345" and item["data"]["business_key"] == "intake-7"
    created = history(client, people, item["id"])[0]
    assert (created["action"], created["actor"], created["data"]["message"]) == (
        "created",
        "reporter",
        "submission_accepted",
    )

    # The same key again goes to that item, which waits for nothing of the name: 409, logged.
    again = start(
        client, people, user="approver", name="submission_accepted", variables=variables, business_key="intake-7"
    )
    assert_problem(again, 409)
    assert complete(client, people, item, "manager")["status"] == "closed"
    assert undelivered(client, people) == [("approver", f"item {item['id']}", "submission_accepted")]


def test_a_starting_message_is_refused_naming_what_is_wrong(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_start")
    unknown = assert_problem(start(client, people, name="no_such_message", variables={}), 404)
    assert "no_such_message" in unknown["detail"]
    missing = assert_problem(start(client, people, name="submission_accepted", variables={"channel": "12345"}), 422)
    assert {error["field"] for error in missing["errors"]} == {"variables.title", "variables.department"}
    wrong_unit = assert_problem(
        start(client, people, name="submission_accepted", variables={"title": "t", "department": "nowhere"}), 422
    )
    assert wrong_unit["errors"][0]["field"] == "variables.department"
    severity = {"title": "t", "department": "office", "severity": "很严重"}
    wrong_severity = assert_problem(start(client, people, name="submission_accepted", variables=severity), 422)
    assert wrong_severity["errors"][0]["field"] == "variables.severity"
    assert_problem(start(client, people, user="manager", name="submission_accepted", variables={}), 403)
    # Through POST /items its start event would wait for ever: refused, naming the message.
    direct = client.post(
        f"{API}/items",
        json={"title": "t", "department": "office", "process": "message_start"},
        headers=people.auth("reporter"),
    )
    assert "submission_accepted" in assert_problem(direct, 422)["errors"][0]["message"]
    assert undelivered(client, people) == [("reporter", "processes", "no_such_message")]


@pytest.mark.parametrize("stage", ["identified", "review"])
def test_an_approver_withdraws_an_item_at_any_stage_from_the_diagram(
    client: FlaskClient, people: People, stage: str
) -> None:
    deploy_example(client, people, "message_withdraw")
    item = create(client, people, "message_withdraw")
    if stage == "review":
        item = complete(client, people, item, "manager")
    assert item["status"] == stage
    assert_problem(send(client, people, item["id"], "withdraw", user="manager", reason="重复登记"), 403)

    withdrawn = send(client, people, item["id"], "withdraw", reason="重复登记")
    assert withdrawn.status_code == 200, withdrawn.get_data(as_text=True)
    body = withdrawn.json
    assert (body["status"], body["status_label"], body["tasks"]) == ("withdrawn", "已撤销 Withdrawn", [])
    assert body["closed_at"] is not None
    # Recorded as the administrators' withdrawal is: the history's withdrawn event with the reason, the admin log.
    event = history(client, people, item["id"])[-1]
    assert (event["action"], event["actor"], event["status_from"], event["status_to"]) == (
        "withdrawn",
        "approver",
        stage,
        "withdrawn",
    )
    assert (event["data"]["reason"], event["data"]["message"]) == ("重复登记", "withdraw")
    logged = admin_log(client, people, action="item.withdraw")
    assert [(e["actor"], e["target"], e["detail"]["reason"]) for e in logged] == [
        ("approver", f"item {item['id']}", "重复登记")
    ]
    # A withdrawn item takes no administrator's withdrawal, nor another message.
    again = client.post(f"{API}/items/{item['id']}/withdraw", json={"reason": "再次"}, headers=people.auth("admin"))
    assert_problem(again, 422)
    assert_problem(send(client, people, item["id"], "withdraw", reason="再次"), 409)


def test_the_withdrawal_example_also_runs_to_its_normal_end(client: FlaskClient, people: People) -> None:
    deploy_example(client, people, "message_withdraw")
    item = complete(client, people, create(client, people, "message_withdraw"), "manager")
    done = complete(client, people, item, "approver")
    assert (done["status"], done["tasks"]) == ("closed", [])
    assert_problem(send(client, people, item["id"], "withdraw", reason="晚了"), 409)


def test_an_item_waiting_for_a_message_gets_it_after_a_restart(
    database_url: str, people: People, tmp_path: Path
) -> None:
    content = (EXAMPLES / "message_catch.bpmn").read_bytes()
    with serve(database_url, tmp_path) as base:
        deployed = requests.post(
            f"{base}/api/v1/processes",
            files={"file": ("message_catch.bpmn", content)},
            headers=people.auth("designer"),
            timeout=30,
        )
        assert deployed.status_code == 201, deployed.text
        item = requests.post(
            f"{base}/api/v1/items",
            json={"title": "重启后等待消息", "department": "office", "process": "message_catch"},
            headers=people.auth("reporter"),
            timeout=30,
        ).json()
        task = item["tasks"][0]["id"]
        done = requests.post(
            f"{base}/api/v1/tasks/{task}/complete", json={"data": {}}, headers=people.auth("manager"), timeout=30
        )
        assert done.json()["tasks"] == []

    with serve(database_url, tmp_path) as base:
        received = requests.post(
            f"{base}/api/v1/items/{item['id']}/messages",
            json={"name": "inspection_result", "variables": {"result": "pass"}},
            headers=people.auth("approver"),
            timeout=30,
        )
        assert received.status_code == 200, received.text
        assert (received.json()["status"], received.json()["data"]["result"]) == ("closed", "pass")
