"""Diagram code over HTTP: refused at deploy (422), or an incident of one item that an admin retries."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.store.models import AdminLogEntry, Instance
from tests.conftest import People
from tests.engine.bpmn.test_sandbox import REFUSED, condition, process, script, timer

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


# --- the payloads that build a huge value or run away: an incident, nothing huge stored, retryable ---------

# Each payload's size comes from ``n``, set by a first script ``x``; the retry gives a harmless ``n``.
HUGE = {
    "star width": ("y = '%*s' % (n, 'a')", 200_000_000, "format width"),
    "bytes ljust": ("y = len(b'a'.ljust(n))", 10**8, "too large"),
    "translate": ("y = ('a' * 1000).translate({97: 'x' * n})", 100_000, "too large"),
    "300 strings of 1 MB": ("y = len([c * n for c in 'abcdefghij' * 30])", 1_000_000, "more than 4,000,000"),
    "big integer": ("y = 10 ** n", 15_000, "too large"),
    "script leaves 300 KB": ("y = 'a' * n", 300_000, "at most 262,144"),
    # ``int.to_bytes`` is not counted by the sandbox's checks: the child process's memory limit stops it. One
    # allocation past that limit fails at once (many small ones could hit the 1 s budget first on a slow machine).
    "what the checks miss": ("y = len((0).to_bytes(n, 'big'))", 10**9, "more memory"),
}
# Far under every state this test stores legitimately: a few KB.
SMALL_STATE = 64 * 1024


def sized(payload: str, size: int) -> bytes:
    """``x`` sets ``n = size``, then the script task ``y`` runs ``payload``."""
    first = f'<bpmn:scriptTask id="x"><bpmn:script>n = {size}</bpmn:script></bpmn:scriptTask>'
    then = f'<bpmn:scriptTask id="y"><bpmn:script>{escape(payload)}</bpmn:script></bpmn:scriptTask>'
    return process(first + '<bpmn:sequenceFlow id="xy" sourceRef="x" targetRef="y"/>' + then, "huge")


def stored_state(sessions: sessionmaker[Session], item_id: int) -> int:
    with sessions() as session:
        return len(session.get_one(Instance, item_id).state)


@pytest.mark.parametrize("case", list(HUGE))
def test_a_script_building_a_huge_value_is_an_incident_and_stores_nothing_huge(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], case: str
) -> None:
    payload, size, words = HUGE[case]
    item = deployed_item(client, people, sized(payload, size), "huge")
    assert (item["incident"]["element"], item["status"]) == ("y", "active")
    assert words in item["incident"]["message"]
    assert stored_state(sessions, item["id"]) < SMALL_STATE
    done = retry(client, people, item, data={"n": 3})
    assert (done.status_code, done.json["resolved_by"]) == (200, "admin")
    now = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (now["status"], now["incident"]) == ("closed", None)


def test_a_condition_or_timer_building_a_huge_value_is_an_incident_of_its_element(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    for content, key in [
        (condition("len('%*s' % (200000000, 'a')) > 0"), "conditioned"),
        (condition("len(b'a'.ljust(10**8)) > 0", key="conditioned_bytes"), "conditioned_bytes"),
        (timer("'%*s' % (200000000, 'a')"), "timed"),
    ]:
        item = deployed_item(client, people, content, key)
        assert item["incident"]["element"] == "x", key
        assert "format width" in item["incident"]["message"] or "too large" in item["incident"]["message"], key
        assert stored_state(sessions, item["id"]) < SMALL_STATE
        again = retry(client, people, item)
        assert (again.status_code, again.json["resolved_at"]) == (200, None)  # the same code fails the same way


def test_a_literal_too_long_to_store_is_refused_at_deploy(client: FlaskClient, people: People) -> None:
    for content, element in [(script("y = 10**15000"), "x"), (condition("10**15000 > 1"), "yes")]:
        response = upload(client, people, content)
        assert response.status_code == 422
        assert response.json["errors"][0]["element"] == element
        assert "too large" in response.json["detail"]


def loop(way_out: str) -> bytes:
    """``first`` sets ``n = 0``; then ``gate`` → ``count`` (n + 1) → ``gate``... until ``way_out`` holds."""
    return LOOP.replace("WAY_OUT", escape(way_out)).encode()


LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:process id="looping" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="in" sourceRef="start" targetRef="first"/>
    <bpmn:scriptTask id="first"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_gate" sourceRef="first" targetRef="gate"/>
    <bpmn:exclusiveGateway id="gate" default="again"/>
    <bpmn:sequenceFlow id="again" sourceRef="gate" targetRef="count"/>
    <bpmn:sequenceFlow id="done" sourceRef="gate" targetRef="end">
      <bpmn:conditionExpression>WAY_OUT</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="back" sourceRef="count" targetRef="gate"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_script_only_loop_is_stopped_as_an_incident_and_the_item_stays_where_it_was(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    """Gateway → script → gateway..., whose way out (``n < 0``) is never taken: no task, no timer, no end."""
    assert upload(client, people, loop("n < 0")).status_code == 201
    item = create(client, people, "looping")
    assert item["incident"]["element"] == "start"  # the run is undone back to its first step
    assert "more than 500 engine steps" in item["incident"]["message"]
    assert item["status"] == "active" and item["data"].get("n") is None
    assert stored_state(sessions, item["id"]) < SMALL_STATE
    again = retry(client, people, item)
    assert (again.status_code, again.json["resolved_at"]) == (200, None)
    assert "engine steps" in again.json["message"]


def test_a_loop_that_ends_within_the_step_cap_runs_as_before(client: FlaskClient, people: People) -> None:
    assert upload(client, people, loop("n >= 100")).status_code == 201
    item = create(client, people, "looping")
    assert (item["incident"], item["status"], item["data"]["n"]) == (None, "closed", 100)


def branches(count: int) -> bytes:
    """``count`` parallel scripts each leave 200 KB (each under the cap), which the join merges into one data."""
    scripts = "".join(
        f'<bpmn:sequenceFlow id="to{n}" sourceRef="x" targetRef="s{n}"/>'
        f'<bpmn:scriptTask id="s{n}"><bpmn:script>b{n} = "x" * 200000</bpmn:script></bpmn:scriptTask>'
        f'<bpmn:sequenceFlow id="from{n}" sourceRef="s{n}" targetRef="join"/>'
        for n in range(count)
    )
    return process(f'<bpmn:parallelGateway id="x"/>{scripts}<bpmn:parallelGateway id="join"/>', f"heavy{count}", "join")


def test_a_state_over_its_cap_is_an_incident_and_is_not_stored(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    """Each script is under its cap; the item's state, which gathers them all, is over its own."""
    fine = deployed_item(client, people, branches(2), "heavy2")
    assert (fine["incident"], fine["status"]) == (None, "closed")
    item = deployed_item(client, people, branches(12), "heavy12")
    assert item["incident"]["element"] == "start"  # the run is undone back to its first step
    assert "state would be" in item["incident"]["message"]
    assert item["status"] == "active" and "b0" not in item["data"]
    assert stored_state(sessions, item["id"]) < SMALL_STATE
    again = retry(client, people, item)
    assert (again.status_code, again.json["resolved_at"]) == (200, None)
