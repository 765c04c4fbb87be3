"""Call activities over HTTP: the examples call_activity.bpmn (caller) and called_review.bpmn (called), deployed
and run to the end; the called version chosen when the call is reached; the called process's people, forms,
statuses and timers; an unresolved call as an incident; the deploy-time refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.bundle import Bundle, from_folder
from engine.bpmn.deploy import deploy as deploy_bundle
from engine.bpmn.deploy import get as deploy_get
from engine.identity import identity
from engine.store.db import transaction
from engine.store.models import Job
from tests.conftest import PROCESSES, People, deployment, serve
from tests.web.pages.test_pages_language import csrf

API = "/api/v1"
EXAMPLES = PROCESSES / "examples"
CALLER = from_folder(EXAMPLES / "call_activity.bpmn", EXAMPLES / "forms")
CALLED = from_folder(EXAMPLES / "called_review.bpmn", EXAMPLES / "forms")
PASSWORD = "correct horse battery staple"


def deploy(client: FlaskClient, people: People, bundle: Bundle, status: int = 201) -> Any:
    response = client.post(
        f"{API}/processes",
        data=deployment(bundle.diagram, bundle.forms),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert response.status_code == status, response.json
    return response.json


def renamed(bundle: Bundle, old: str, new: str) -> Bundle:
    """The bundle with a step renamed (a new version whose difference a test can see)."""
    return Bundle(bundle.diagram.replace(old.encode(), new.encode()), bundle.forms)


def create(client: FlaskClient, people: People, **fields: Any) -> Any:
    body = {"title": "调用活动", "department": "office", "process": "call_activity", **fields}
    created = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert created.status_code == 201, created.json
    return created.json


def complete(client: FlaskClient, people: People, item: Any, username: str, data: dict[str, Any]) -> Any:
    (task,) = item["tasks"]
    done = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(username))
    assert done.status_code == 200, done.json
    return done.json


def step(item: Any) -> tuple[str, str, str]:
    (task,) = item["tasks"]
    return task["name"], task["title"], item["status"]


@pytest.fixture
def deployed(client: FlaskClient, people: People) -> None:
    deploy(client, people, CALLED)
    deploy(client, people, CALLER)


@pytest.mark.usefixtures("deployed")
def test_the_example_runs_to_the_end_through_the_called_process(client: FlaskClient, people: People) -> None:
    item = create(client, people)
    item = complete(client, people, item, "manager", {})
    # The called process's task: its title, its lane's people (approvers), its form, its status.
    assert step(item) == ("revise", "整改 Revise", "revising")
    (task,) = item["tasks"]
    assert task["candidates"] == ["manager"]
    item = complete(client, people, item, "manager", {})
    assert step(item) == ("check", "复核 Check", "checking")
    (task,) = item["tasks"]
    refused = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": {}}, headers=people.auth("approver"))
    assert refused.status_code == 422  # the called definition's form requires a decision
    item = complete(client, people, item, "approver", {"decision": "reject", "comment": "再改"})
    assert step(item)[0] == "revise"
    item = complete(client, people, item, "manager", {})
    item = complete(client, people, item, "approver", {"decision": "approve"})
    assert (item["status"], item["tasks"], item["incident"]) == ("closed", [], None)
    # Data flows back out: the caller sees the called process's answers.
    assert item["data"]["decision"] == "approve"


def titled(bundle: Bundle, title: str) -> Bundle:
    """The called process with its check step retitled: a new version whose steps say which one they are."""
    return renamed(bundle, 'name="复核 Check"', f'name="{title}"')


def pinned(bundle: Bundle, version: int) -> Bundle:
    """The caller bound to one version of the called process (Camunda's attributes)."""
    attributes = (
        f'calledElement="called_review" camunda:calledElementBinding="version" camunda:calledElementVersion="{version}"'
    )
    return renamed(bundle, 'calledElement="called_review"', attributes)


def to_check(client: FlaskClient, people: People, item: Any) -> Any:
    """From ``prepare`` (or ``revise``) to the called process's ``check``."""
    while step(item)[0] != "check":
        item = complete(client, people, item, "manager", {})
    return item


def history(client: FlaskClient, people: People, item: Any) -> list[Any]:
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    return list(events)


def test_the_called_version_is_the_latest_when_the_call_is_reached(client: FlaskClient, people: People) -> None:
    deploy(client, people, CALLED)
    deploy(client, people, CALLER)
    inside = complete(client, people, create(client, people), "manager", {})  # in called_review v1 already
    waiting = create(client, people)  # not at the call yet
    deploy(client, people, titled(CALLED, "复核二 Check v2"))

    assert step(to_check(client, people, inside))[1] == "复核 Check"  # stays on v1
    reached = to_check(client, people, waiting)
    assert step(reached)[1] == "复核二 Check v2"
    called = {e["task"]: e["data"].get("called") for e in history(client, people, reached) if e["task"]}
    assert called == {"prepare": None, "revise": {"key": "called_review", "version": 2}}


def test_a_version_binding_calls_that_version(client: FlaskClient, people: People) -> None:
    deploy(client, people, CALLED)
    deploy(client, people, titled(CALLED, "复核二 Check v2"))
    deploy(client, people, pinned(CALLER, 1))
    assert step(to_check(client, people, create(client, people)))[1] == "复核 Check"


def test_a_call_of_a_version_not_yet_deployed_is_an_incident_until_it_is(client: FlaskClient, people: People) -> None:
    deploy(client, people, CALLED)
    warned = deploy(client, people, pinned(CALLER, 2))
    item = complete(client, people, create(client, people), "manager", {})
    assert item["tasks"] == []
    assert item["incident"]["element"] == "review"
    assert "no version 2 of process 'called_review'" in item["incident"]["message"]
    assert warned["version"] == 1

    deploy(client, people, titled(CALLED, "复核二 Check v2"))
    url = f"{API}/items/{item['id']}/incidents/{item['incident']['id']}/retry"
    assert client.post(url, json={}, headers=people.auth("admin")).status_code == 200
    item = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (step(to_check(client, people, item))[1], item["incident"]) == ("复核二 Check v2", None)


def test_a_call_the_deployment_cannot_make_is_refused_naming_the_element(client: FlaskClient, people: People) -> None:
    missing = deploy(client, people, CALLER, status=422)
    assert [(e["element"], e["code"]) for e in missing["errors"]] == [("review", "call-not-deployed")]

    nameless = deploy(client, people, renamed(CALLER, ' calledElement="called_review"', ""), status=422)
    assert [(e["element"], e["code"]) for e in nameless["errors"]] == [("review", "call-element-missing")]

    deploy(client, people, CALLED)
    deploy(client, people, CALLER)
    # called_review calling call_activity back (which calls called_review) would never end.
    recursive = renamed(
        CALLED,
        '<bpmn:userTask id="revise" name="整改 Revise">',
        '<bpmn:callActivity id="revise" name="整改 Revise" calledElement="call_activity">',
    )
    recursive = Bundle(recursive.diagram.replace(b"</bpmn:userTask>", b"</bpmn:callActivity>", 1), recursive.forms)
    refused = deploy(client, people, recursive, status=422)
    assert [(e["element"], e["code"]) for e in refused["errors"]] == [("revise", "call-recursive")]


def test_a_new_caller_version_concerns_no_item_inside_the_called_process_at_a_step_of_the_same_id(
    client: FlaskClient, people: People
) -> None:
    # The called process's first step has the id of the caller's first step: two different steps.
    deploy(client, people, renamed(CALLED, "revise", "prepare"))
    deploy(client, people, CALLER)
    inside = complete(client, people, create(client, people, title="在被调用流程中"), "manager", {})
    assert step(inside) == ("prepare", "整改 Revise", "revising")
    at_prepare = create(client, people, title="在准备步骤")
    assert step(at_prepare)[0] == "prepare"
    deploy(client, people, renamed(CALLER, 'name="准备 Prepare"', 'name="准备材料 Prepare"'))

    diff = client.get(f"{API}/processes/call_activity/diff?from=1&to=2", headers=people.auth("designer"))
    assert diff.status_code == 200, diff.json
    assert [(row["item_id"], row["element"], row["name"]) for row in diff.json["affected"]] == [
        (at_prepare["id"], "prepare", "准备 Prepare")
    ]


@pytest.mark.usefixtures("deployed")
def test_timers_inside_the_called_process_are_scheduled_and_fire(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    item = to_check(client, people, create(client, people, deadline=later))
    with sessions() as session:
        job = session.scalar(select(Job).where(Job.item_id == item["id"], Job.kind == "timer"))
        assert job is not None and job.due_at is not None  # the called process's boundary timer is due

    past = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    overdue = to_check(client, people, create(client, people, deadline=past))
    escalated = [e for e in history(client, people, overdue) if e["action"] == "escalation"]
    assert [(e["task"], e["data"]["kind"], e["data"]["called"]["key"]) for e in escalated] == [
        ("check_overdue", "overdue", "called_review")
    ]
    assert step(overdue)[0] == "check"  # non-interrupting: the check goes on


def test_an_item_inside_the_called_process_survives_a_restart(
    database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        deploy_bundle(session, CALLED, actor=None)
        deploy_bundle(session, CALLER, actor=None)
    with serve(database_url, tmp_path) as base:
        item = requests.post(
            f"{base}{API}/items",
            json={"title": "重启", "department": "office", "process": "call_activity"},
            headers=people.auth("reporter"),
            timeout=30,
        ).json()
        for username in ("manager", "manager"):
            (task,) = item["tasks"]
            url = f"{base}{API}/tasks/{task['id']}/complete"
            item = requests.post(url, json={"data": {}}, headers=people.auth(username), timeout=30).json()
        assert step(item)[0] == "check"

    # A new server process: nothing cached, the called process's spec loaded again from the database.
    with serve(database_url, tmp_path) as base:
        item = requests.get(f"{base}{API}/items/{item['id']}", headers=people.auth("reporter"), timeout=30).json()
        (task,) = item["tasks"]
        url = f"{base}{API}/tasks/{task['id']}/complete"
        done = requests.post(url, json={"data": {"decision": "approve"}}, headers=people.auth("approver"), timeout=30)
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["tasks"]) == ("closed", [])


@pytest.mark.usefixtures("deployed")
def test_the_item_page_shows_the_called_steps_and_the_called_diagram(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = to_check(client, people, create(client, people))
    with transaction(sessions) as session:
        identity.add_user(session, "reader", None, ["auditor"], password=PASSWORD)
        called = deploy_get(session, "called_review", 1).id
    token = csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"csrf_token": token, "username": "reader", "password": PASSWORD})
    page = client.get(f"/items/{item['id']}", follow_redirects=True).get_data(as_text=True)
    assert "完成了“整改”（调用的流程 called_review 第 1 版）" in page
    # The call activity is the caller's step now; the called diagram shows its own.
    assert "data-completed='[\"prepare\"]' data-current='[\"review\"]'" in page
    assert 'data-called="called_review"' in page and "data-current='[\"check\"]'" in page
    xml = client.get(f"/items/{item['id']}/called/{called}/diagram.bpmn")
    assert xml.status_code == 200 and b'id="called_review"' in xml.data
    caller = client.get(f"/items/{item['id']}/diagram.bpmn").data
    assert client.get(f"/items/{item['id']}/called/{called + 100}/diagram.bpmn").status_code == 404
    assert b'id="call_activity"' in caller


JOINT_CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="joint_caller" name="调用联动 Joint caller" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="joint" name="联动攻坚 Joint task" calledElement="joint_task">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="done" name="已办结 Done">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="status" value="closed" /><camunda:property name="status_label" value="已办结 Done" />
      </camunda:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="joint" />
    <bpmn:sequenceFlow id="f2" sourceRef="joint" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_the_bundled_joint_task_runs_as_a_called_process(client: FlaskClient, people: People) -> None:
    """Multi-instance parts over ``units``, its own lanes, its deadline timers and its script, called."""
    deploy(client, people, Bundle(JOINT_CALLER, {}))
    body = {"title": "联动", "department": "office", "co_departments": ["works"], "process": "joint_caller"}
    item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
    assert (item["status"], item["progress"]) == ("units", {"done": 0, "total": 2})
    parts = {task["unit"]: task for task in item["tasks"]}
    assert (parts["office"]["candidates"], parts["works"]["candidates"]) == (["manager"], ["works_manager"])
    for unit, user in (("office", "manager"), ("works", "works_manager")):
        done = client.post(
            f"{API}/tasks/{parts[unit]['id']}/complete",
            json={"data": {"contribution": unit}},
            headers=people.auth(user),
        )
        assert done.status_code == 200, done.json
    item = complete(client, people, done.json, "manager", {"summary": "汇总"})
    # Sent back with one unit to redo: the called process's script reopens that unit's part only.
    reject = {"decision": "reject", "comment": "重办", "redo_departments": ["works"]}
    item = complete(client, people, item, "approver", reject)
    assert [(t["name"], t["unit"]) for t in item["tasks"]] == [("unit_contribution", "works")]
    item = complete(client, people, item, "works_manager", {"contribution": "重办"})
    item = complete(client, people, item, "manager", {"summary": "再汇总"})
    item = complete(client, people, item, "approver", {"decision": "approve"})
    assert (item["status"], item["tasks"], item["incident"]) == ("closed", [], None)
