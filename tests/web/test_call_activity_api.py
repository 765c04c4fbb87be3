"""Call activities over HTTP: the examples call_activity.bpmn (caller) and called_review.bpmn (called), deployed
and run to the end; the called version chosen when the call is reached; the called process's people, forms,
statuses and timers; an unresolved call as an incident; the deploy-time refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.bundle import Bundle, from_folder
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Instance, Job
from tests.conftest import PROCESSES, People, deployment

API = "/api/v1"
EXAMPLES = PROCESSES / "examples"
CALLER = from_folder(EXAMPLES / "call_activity.bpmn", EXAMPLES / "forms")
CALLED = from_folder(EXAMPLES / "called_review.bpmn", EXAMPLES / "forms")


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
