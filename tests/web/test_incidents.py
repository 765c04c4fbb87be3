"""Diagram code over HTTP: refused at deploy (422), or an incident of one item that an admin retries."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.store.models import AdminLogEntry
from tests.conftest import People
from tests.engine.bpmn.test_sandbox import REFUSED, condition, script, timer

API = "/api/v1"


def upload(client: FlaskClient, people: People, content: bytes) -> TestResponse:
    return client.post(
        f"{API}/processes",
        data={"file": (io.BytesIO(content), "diagram.bpmn")},
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )


def create(client: FlaskClient, people: People, process: str | None = None) -> dict[str, Any]:
    body = {"title": "窗口服务排队时间长", "department": "office", **({"process": process} if process else {})}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def deployed_item(client: FlaskClient, people: People, content: bytes, key: str) -> dict[str, Any]:
    assert upload(client, people, content).status_code == 201
    return create(client, people, key)


def history(client: FlaskClient, people: People, item_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"{API}/items/{item_id}/history", headers=people.auth("admin")).json[
        "events"
    ]
    return events


def test_a_script_task_diagram_without_user_tasks_runs_when_an_item_is_created(
    client: FlaskClient, people: People
) -> None:
    item = deployed_item(client, people, script("answer = 6 * 7"), "scripted")
    assert item["data"]["answer"] == 42
    assert (item["status"], item["tasks"], item["incident"]) == ("closed", [], None)


@pytest.mark.parametrize("payload", [REFUSED["subclasses walk"], REFUSED["power tower"], REFUSED["open"]])
def test_an_escape_payload_is_a_422_naming_the_element(client: FlaskClient, people: People, payload: str) -> None:
    for content, element in [(script(payload), "x"), (condition(payload), "yes"), (timer(payload), "x")]:
        response = upload(client, people, content)
        assert response.status_code == 422
        assert response.json["errors"][0]["element"] == element


RUNTIME = {
    "endless loop": ("while True: pass", "ran longer than 1 s"),
    "giant list": ("x = []\nwhile True: x.extend([0] * 10000)", "too large"),
    "missing data": ("total = amount * 2", "NameError"),
}


@pytest.mark.parametrize("case", list(RUNTIME))
def test_a_script_failing_at_run_time_flags_its_item_and_nothing_else(
    client: FlaskClient, people: People, case: str
) -> None:
    code, words = RUNTIME[case]
    item = deployed_item(client, people, script(code), "scripted")
    incident = item["incident"]
    assert incident["element"] == "x"
    assert words in incident["message"]
    assert item["status"] != "closed"
    assert [e["action"] for e in history(client, people, item["id"])] == ["created", "incident"]
    flagged = client.get(f"{API}/items?incident=true", headers=people.auth("admin")).json
    assert [i["id"] for i in flagged["items"]] == [item["id"]]
    # The server goes on: an item on the default lifecycle is raised and moves as usual.
    other = create(client, people)
    (task,) = other["tasks"]
    done = client.post(
        f"{API}/tasks/{task['id']}/complete", json={"data": {"measures": "增设"}}, headers=people.auth("manager")
    )
    assert done.status_code == 200
    assert done.json["incident"] is None
    assert other["id"] not in [i["id"] for i in flagged["items"]]


def test_a_failing_condition_is_an_incident_of_its_gateway(client: FlaskClient, people: People) -> None:
    item = deployed_item(client, people, condition("decision == 'approve'"), "conditioned")
    assert item["incident"]["element"] == "x"
    assert "decision" in item["incident"]["message"]


def retry(client: FlaskClient, people: People, item: dict[str, Any], user: str = "admin", **body: Any) -> TestResponse:
    incident = item["incident"]["id"]
    return client.post(f"{API}/items/{item['id']}/incidents/{incident}/retry", json=body, headers=people.auth(user))


def test_an_admin_retries_a_failed_step_until_it_gets_through(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = deployed_item(client, people, script("total = amount * 2"), "scripted")
    listed = client.get(f"{API}/incidents", headers=people.auth("auditor")).json["incidents"]
    assert [(i["id"], i["item_id"]) for i in listed] == [(item["incident"]["id"], item["id"])]
    assert client.get(f"{API}/incidents", headers=people.auth("reporter")).status_code == 403
    assert retry(client, people, item, user="manager").status_code == 403

    again = retry(client, people, item, data={"amount": None, "other": 1})
    assert again.status_code == 200
    assert again.json["resolved_at"] is None
    assert "TypeError" in again.json["message"]  # the new error, not the old NameError

    done = retry(client, people, item, data={"amount": 21})
    assert done.status_code == 200
    assert done.json["resolved_by"] == "admin"
    now = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (now["data"]["total"], now["status"], now["incident"]) == (42, "closed", None)
    assert client.get(f"{API}/incidents", headers=people.auth("admin")).json["incidents"] == []
    assert retry(client, people, item).status_code == 409

    retried = [e for e in history(client, people, item["id"]) if e["action"] == "incident_retried"]
    assert [(e["actor"], e["data"]["resolved"]) for e in retried] == [("admin", False), ("admin", True)]
    with sessions() as session:
        logged = session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == "incident.retry")).all()
        assert [(e.actor, e.detail["resolved"]) for e in logged] == [("admin", False), ("admin", True)]


def test_a_retry_names_an_incident_of_that_item(client: FlaskClient, people: People) -> None:
    item = deployed_item(client, people, script("total = amount * 2"), "scripted")
    other = create(client, people)
    url = f"{API}/items/{other['id']}/incidents/{item['incident']['id']}/retry"
    assert client.post(url, json={}, headers=people.auth("admin")).status_code == 404
    assert (
        client.post(f"{API}/items/{item['id']}/incidents/99999/retry", headers=people.auth("admin")).status_code == 404
    )
