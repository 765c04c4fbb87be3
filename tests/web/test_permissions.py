"""Who may do what over HTTP: every role of the cast against every action, then authentication.

Each refusal is checked to be a problem+json answer that changed nothing a user could see.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.bpmn.bundle import from_folder
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from engine.store.models import User
from tests.conftest import CAST, People, deployment

API = "/api/v1"
BPMN = REPO_ROOT / "processes" / "rectification_item.bpmn"

# A valid submission for each task of the default diagram; the owner is "owner" unless a test says otherwise.
DATA: dict[str, dict[str, str]] = {
    "define_measures": {"measures": "增设自助取号机"},
    "assign_owner": {"owner": "owner"},
    "rectify": {"result": "已增设两台取号机"},
    "review": {"decision": "approve"},
}
TASKS = tuple(DATA)
STATUS_AFTER = {"define_measures": "measures", "assign_owner": "owner", "rectify": "review", "review": "closed"}

ALLOWED: dict[str, set[str]] = {
    "create item": {"reporter"},
    "deploy process": {"designer"},
    "define_measures": {"manager"},
    "assign_owner": {"manager"},
    "rectify": {"owner"},
    "review": {"approver", "approver2", "owner_approver"},
}


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An unhandled exception is answered 500 and logged by web.problems: none may happen here."""
    yield
    crashes = [r for r in caplog.records if r.name == "web.problems" and r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage() for r in crashes]


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return dict(body)


def create(client: FlaskClient, people: People, **fields: Any) -> dict[str, Any]:
    body = {"title": "窗口服务排队时间长", "department": "office", **fields}
    response = client.post(f"{API}/items", json=body, headers=people.auth("reporter"))
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def complete(client: FlaskClient, people: People, user: str, task_id: int, data: Any) -> TestResponse:
    return client.post(f"{API}/tasks/{task_id}/complete", json={"data": data}, headers=people.auth(user))


def item_at(client: FlaskClient, people: People, task: str, owner: str = "owner") -> dict[str, Any]:
    """A new office item whose one ready task is ``task``, every earlier step done by its rightful actor."""
    actors = {"define_measures": "manager", "assign_owner": "manager", "rectify": owner, "review": "approver"}
    data = {**DATA, "assign_owner": {"owner": owner}}
    item = create(client, people)
    while item["tasks"][0]["name"] != task:
        name = item["tasks"][0]["name"]
        response = complete(client, people, actors[name], item["tasks"][0]["id"], data[name])
        assert response.status_code == 200, response.json
        item = dict(response.json or {})
    return item


def snapshot(client: FlaskClient, people: People, item_id: int) -> tuple[Any, ...]:
    """What a reader sees of an item: its version (ETag), status, owner, live tasks and history length."""
    got = client.get(f"{API}/items/{item_id}", headers=people.auth("auditor"))
    events = client.get(f"{API}/items/{item_id}/history", headers=people.auth("auditor")).json["events"]
    body = got.json
    tasks = [(t["id"], t["name"], t["state"]) for t in body["tasks"]]
    return got.headers["ETag"], body["status"], body["owner"], tasks, len(events)


def items_total(client: FlaskClient, people: People) -> int:
    total: int = client.get(f"{API}/items", headers=people.auth("auditor")).json["total"]
    return total


def latest_version(client: FlaskClient, people: People) -> int:
    processes = client.get(f"{API}/processes", headers=people.auth("auditor")).json["processes"]
    (process,) = [p for p in processes if p["key"] == "rectification_item"]
    version: int = process["latest_version"]
    return version


def changed_diagram() -> bytes:
    """The default diagram with one attribute changed: a new version when deployed."""
    return BPMN.read_bytes().replace(b'exporterVersion="1"', b'exporterVersion="2"', 1)


# --- the matrix -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_task_completion_matrix(client: FlaskClient, people: People, task: str, subtests: pytest.Subtests) -> None:
    for user in CAST:
        with subtests.test(user=user):
            item = item_at(client, people, task)
            (ready,) = item["tasks"]
            before = snapshot(client, people, item["id"])
            response = complete(client, people, user, ready["id"], DATA[task])
            if user in ALLOWED[task]:
                assert response.status_code == 200, response.json
                assert response.json["status"] == STATUS_AFTER[task]
                assert snapshot(client, people, item["id"])[-1] == before[-1] + 1
            else:
                assert_problem(response, 403)
                assert snapshot(client, people, item["id"]) == before
                # The rightful actor can still do it afterwards: the refusal left the task as it was.
                rightful = sorted(ALLOWED[task])[0]
                assert complete(client, people, rightful, ready["id"], DATA[task]).status_code == 200


@pytest.mark.parametrize("task", TASKS)
def test_candidates_listed_on_each_task_are_exactly_those_allowed(
    client: FlaskClient, people: People, task: str
) -> None:
    (ready,) = item_at(client, people, task)["tasks"]
    assert ready["candidates"] == sorted(ALLOWED[task])


def test_only_reporters_create_items(client: FlaskClient, people: People, subtests: pytest.Subtests) -> None:
    total = 0
    for user in CAST:
        with subtests.test(user=user):
            response = client.post(
                f"{API}/items", json={"title": "新问题", "department": "office"}, headers=people.auth(user)
            )
            if user in ALLOWED["create item"]:
                assert response.status_code == 201, response.json
                total += 1
            else:
                assert_problem(response, 403)
            assert items_total(client, people) == total
    assert total == 1


def test_only_designers_deploy_processes(client: FlaskClient, people: People, subtests: pytest.Subtests) -> None:
    version = 1
    for user in CAST:
        with subtests.test(user=user):
            response = client.post(
                f"{API}/processes",
                data=deployment(changed_diagram()),
                content_type="multipart/form-data",
                headers=people.auth(user),
            )
            if user in ALLOWED["deploy process"]:
                assert response.status_code == 201, response.json
                assert (response.json["key"], response.json["version"]) == ("rectification_item", 2)
                version = 2
            else:
                assert_problem(response, 403)
            assert latest_version(client, people) == version
    assert version == 2


def test_redeploying_identical_xml_answers_200_with_the_existing_version(client: FlaskClient, people: People) -> None:
    """The whole bundle again: the diagram, its forms and its decision table."""
    decisions = from_folder(BPMN, BPMN.parent / "forms").decisions
    response = client.post(
        f"{API}/processes",
        data=deployment(
            BPMN.read_bytes(), decision=[(io.BytesIO(content), name) for name, content in decisions.items()]
        ),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 1
    assert latest_version(client, people) == 1


# --- segregation of duties --------------------------------------------------------------------------------------------


def test_the_owner_never_reviews_his_own_work_even_as_an_approver(client: FlaskClient, people: People) -> None:
    item = item_at(client, people, "review", owner="owner_approver")
    assert item["owner"] == "owner_approver"
    (review,) = item["tasks"]
    assert review["name"] == "review"
    assert "owner_approver" not in review["candidates"]
    assert review["candidates"] == ["approver", "approver2"]
    inbox = client.get(f"{API}/tasks", headers=people.auth("owner_approver")).json["tasks"]
    assert review["id"] not in [t["id"] for t in inbox]

    before = snapshot(client, people, item["id"])
    assert_problem(complete(client, people, "owner_approver", review["id"], {"decision": "approve"}), 403)
    assert snapshot(client, people, item["id"]) == before

    response = complete(client, people, "approver", review["id"], {"decision": "approve"})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "closed"


def test_an_owner_approver_who_does_not_own_the_item_may_review_it(client: FlaskClient, people: People) -> None:
    (review,) = item_at(client, people, "review", owner="owner")["tasks"]
    assert "owner_approver" in review["candidates"]
    inbox = client.get(f"{API}/tasks", headers=people.auth("owner_approver")).json["tasks"]
    assert [t["id"] for t in inbox] == [review["id"]]


def test_a_manager_of_another_department_may_not_act_on_the_item(client: FlaskClient, people: People) -> None:
    for task in ("define_measures", "assign_owner"):
        item = item_at(client, people, task)
        (ready,) = item["tasks"]
        assert "works_manager" not in ready["candidates"]
        assert_problem(complete(client, people, "works_manager", ready["id"], DATA[task]), 403)
    assert client.get(f"{API}/tasks", headers=people.auth("works_manager")).json["tasks"] == []


# --- auditors ---------------------------------------------------------------------------------------------------------


def test_auditors_read_everything(client: FlaskClient, people: People) -> None:
    office = item_at(client, people, "review")
    works = create(client, people, title="工务科的问题", department="works")
    auditor = people.auth("auditor")

    listed = client.get(f"{API}/items", headers=auditor)
    assert listed.status_code == 200
    assert {i["id"] for i in listed.json["items"]} == {office["id"], works["id"]}
    for item in (office, works):
        got = client.get(f"{API}/items/{item['id']}", headers=auditor)
        assert got.status_code == 200
        assert got.json["title"] == item["title"]
        history = client.get(f"{API}/items/{item['id']}/history", headers=auditor)
        assert history.status_code == 200
        assert history.json["events"][0]["action"] == "created"
    tasks = client.get(f"{API}/tasks", headers=auditor)
    assert (tasks.status_code, tasks.json["tasks"]) == (200, [])  # an inbox: auditors have nothing to do
    processes = client.get(f"{API}/processes", headers=auditor)
    assert processes.status_code == 200
    assert [p["key"] for p in processes.json["processes"]] == ["joint_stage", "joint_task", "rectification_item"]
    xml = client.get(f"{API}/processes/rectification_item/1/bpmn", headers=auditor)
    assert xml.status_code == 200
    assert xml.data == BPMN.read_bytes()


def test_auditors_write_nothing(client: FlaskClient, people: People) -> None:
    auditor = people.auth("auditor")
    items = {task: item_at(client, people, task) for task in TASKS}
    before = {task: snapshot(client, people, item["id"]) for task, item in items.items()}
    total = items_total(client, people)

    assert_problem(client.post(f"{API}/items", json={"title": "t", "department": "office"}, headers=auditor), 403)
    deploy = client.post(
        f"{API}/processes",
        data={"file": (io.BytesIO(changed_diagram()), "x.bpmn")},
        content_type="multipart/form-data",
        headers=auditor,
    )
    assert_problem(deploy, 403)
    for task, item in items.items():
        assert_problem(complete(client, people, "auditor", item["tasks"][0]["id"], DATA[task]), 403)

    assert items_total(client, people) == total
    assert latest_version(client, people) == 1
    assert {task: snapshot(client, people, item["id"]) for task, item in items.items()} == before


# --- authorization comes before the body ------------------------------------------------------------------------------

MALFORMED = '{"title": "unterminated'


def test_a_caller_without_the_right_gets_403_whatever_the_body(client: FlaskClient, people: People) -> None:
    item = item_at(client, people, "define_measures")
    (ready,) = item["tasks"]
    before = snapshot(client, people, item["id"])
    task_url = f"{API}/tasks/{ready['id']}/complete"
    json_type = "application/json"
    refused = [
        ("auditor", f"{API}/items", {"data": MALFORMED, "content_type": json_type}),
        ("auditor", f"{API}/items", {"json": {"title": 5, "colour": "red"}}),
        ("manager", f"{API}/items", {"json": []}),
        ("works_manager", task_url, {"data": MALFORMED, "content_type": json_type}),
        ("works_manager", task_url, {"json": {"data": "not an object", "extra": 1}}),
        ("outsider", task_url, {"json": {"payload": {}}}),
        ("approver", task_url, {"data": b"\xff\xfe", "content_type": json_type}),
        ("reporter", f"{API}/processes", {"data": MALFORMED, "content_type": json_type}),
        (
            "auditor",
            f"{API}/processes",
            {"data": {"wrong": (io.BytesIO(b"<x/>"), "x.bpmn")}, "content_type": "multipart/form-data"},
        ),
    ]
    for user, url, body in refused:
        response = client.post(url, headers=people.auth(user), **body)
        assert_problem(response, 403)
    assert snapshot(client, people, item["id"]) == before
    assert items_total(client, people) == 1
    assert latest_version(client, people) == 1


def test_with_the_right_the_same_bodies_are_refused_for_what_they_are(client: FlaskClient, people: People) -> None:
    (ready,) = item_at(client, people, "define_measures")["tasks"]
    task_url = f"{API}/tasks/{ready['id']}/complete"
    json_type = "application/json"
    assert_problem(
        client.post(f"{API}/items", data=MALFORMED, content_type=json_type, headers=people.auth("reporter")), 400
    )
    assert_problem(client.post(task_url, data=MALFORMED, content_type=json_type, headers=people.auth("manager")), 400)
    assert_problem(client.post(task_url, json={"payload": {}}, headers=people.auth("manager")), 422)


# --- authentication ---------------------------------------------------------------------------------------------------

PROTECTED = [
    ("GET", f"{API}/items"),
    ("POST", f"{API}/items"),
    ("GET", f"{API}/items/{{item}}"),
    ("GET", f"{API}/items/{{item}}/history"),
    ("GET", f"{API}/tasks"),
    ("POST", f"{API}/tasks/{{task}}/complete"),
    ("GET", f"{API}/processes"),
    ("POST", f"{API}/processes"),
    ("GET", f"{API}/processes/rectification_item/1/bpmn"),
]
BAD_CREDENTIALS = {
    "missing": {},
    "unknown token": {"Authorization": "Bearer rf_not-a-real-token"},
    "wrong scheme": {"Authorization": "Basic cmVwb3J0ZXI6c2VjcmV0"},
    "scheme only": {"Authorization": "Bearer"},
    "empty token": {"Authorization": "Bearer "},
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_no_valid_token_is_401_with_a_challenge(client: FlaskClient, people: People, credentials: str) -> None:
    item = create(client, people)
    before = snapshot(client, people, item["id"])
    for method, url in PROTECTED:
        url = url.format(item=item["id"], task=item["tasks"][0]["id"])
        response = client.open(url, method=method, headers=BAD_CREDENTIALS[credentials], data=MALFORMED)
        body = assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
        assert "Bearer" in body["detail"]
    assert items_total(client, people) == 1
    assert snapshot(client, people, item["id"]) == before


def test_the_scheme_is_case_insensitive(client: FlaskClient, people: People) -> None:
    token = people.auth("auditor")["Authorization"].split(" ", 1)[1]
    assert client.get(f"{API}/items", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_deactivated_users_token_is_refused(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    assert client.get(f"{API}/tasks", headers=people.auth("manager")).status_code == 200
    with transaction(sessions) as session:
        session.execute(update(User).where(User.username == "manager").values(active=False))
    response = client.get(f"{API}/tasks", headers=people.auth("manager"))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("people")
def test_health_needs_no_token(client: FlaskClient) -> None:
    response = client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["database"] in ("sqlite", "postgresql")


@pytest.mark.usefixtures("people")
def test_the_openapi_document_and_docs_need_no_token(client: FlaskClient) -> None:
    spec = client.get(f"{API}/openapi.json")
    assert spec.status_code == 200
    assert spec.json["info"]["title"] == "Rectiflow"
    assert f"{API}/items" in spec.json["paths"]
    assert spec.json["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = client.get(f"{API}/docs")
    assert docs.status_code == 200
    assert docs.mimetype == "text/html"
    # The page loads its scripts from our own server, and those need no token either.
    assets = re.findall(r'(?:src|href)="(/api/v1/docs/assets/[^"]+)"', docs.get_data(as_text=True))
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        with client.get(asset) as response:  # a file response: closed here, or it leaks its file
            assert response.status_code == 200, asset
            assert response.data
