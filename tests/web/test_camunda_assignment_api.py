"""The example processes/examples/camunda_assignment.bpmn over HTTP: deployed, run to the end by the people it names.

Each task says who may act with Camunda's attributes: ``candidateGroups="manager:lead-unit"``, then
``candidateUsers="${reviewers}"`` and ``assignee="${approver}"`` from the first task's answers.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from engine.bpmn.bundle import from_folder
from engine.store.config import REPO_ROOT
from tests.conftest import People, deployment

API = "/api/v1"
EXAMPLE = REPO_ROOT / "processes" / "examples" / "camunda_assignment.bpmn"
EVERYONE = ["reporter", "manager", "owner", "outsider", "works_manager", "approver", "approver2", "admin"]


def inbox(client: FlaskClient, people: People, username: str) -> list[int]:
    response = client.get(f"{API}/tasks", headers=people.auth(username))
    assert response.status_code == 200
    return [task["id"] for task in response.json["tasks"]]


def only(client: FlaskClient, people: People, item: dict[str, Any], candidates: list[str]) -> dict[str, Any]:
    """The item's one task: it shows ``candidates``, is in their inboxes and nobody else's."""
    (task,) = item["tasks"]
    assert task["candidates"] == candidates
    for username in EVERYONE:
        assert (task["id"] in inbox(client, people, username)) == (username in candidates), username
    return dict(task)


def complete(client: FlaskClient, people: People, task: dict[str, Any], username: str, data: dict[str, Any]) -> Any:
    return client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(username))


def test_the_camunda_assignment_example_deploys_and_runs_to_the_end(client: FlaskClient, people: People) -> None:
    bundle = from_folder(EXAMPLE, EXAMPLE.parent / "forms")
    deployed = client.post(
        f"{API}/processes",
        data=deployment(bundle.diagram, bundle.forms),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert deployed.status_code == 201, deployed.json
    created = client.post(
        f"{API}/items",
        json={"title": "窗口服务排队时间长", "department": "office", "process": "camunda_assignment"},
        headers=people.auth("reporter"),
    )
    assert created.status_code == 201, created.json

    triage = only(client, people, created.json, ["manager"])  # candidateGroups="manager:lead-unit"
    assert complete(client, people, triage, "works_manager", {}).status_code == 403  # a manager, of another unit
    answers = {"reviewers": ["outsider", "owner"], "approver": "approver2"}
    item = complete(client, people, triage, "manager", answers)
    assert item.status_code == 200, item.json

    check = only(client, people, item.json, ["outsider", "owner"])  # candidateUsers="${reviewers}"
    assert complete(client, people, check, "manager", {"findings": "已整改"}).status_code == 403
    item = complete(client, people, check, "owner", {"findings": "已整改"})
    assert item.status_code == 200, item.json

    sign_off = only(client, people, item.json, ["approver2"])  # assignee="${approver}"
    assert complete(client, people, sign_off, "approver", {}).status_code == 403  # an approver, not the one named
    item = complete(client, people, sign_off, "approver2", {})
    assert item.status_code == 200, item.json
    assert (item.json["status"], item.json["tasks"], item.json["incident"]) == ("closed", [], None)
