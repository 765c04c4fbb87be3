"""GET /processes/{key}/diff: what a new version changes and which running items it concerns, over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from tests.conftest import People
from tests.redesign import RENAMED, deploy_version, items_at_each_step, second_version

URL = "/api/v1/processes/rectification_item/diff"


@pytest.fixture
def waiting(sessions: sessionmaker[Session], people: People, tmp_path: Path) -> dict[str, int]:
    """Items at each step of version 1, then version 2 deployed."""
    with transaction(sessions) as session:
        found = items_at_each_step(session)
        deploy_version(session, second_version(tmp_path / "forms"), tmp_path / "forms")
    return found


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    return body


def test_designers_read_the_changes_and_the_items_waiting_where_they_are(
    client: FlaskClient, people: People, waiting: dict[str, int]
) -> None:
    response = client.get(f"{URL}?from=1&to=2", headers=people.auth("designer"))

    assert response.status_code == 200, response.json
    body = response.json
    assert (body["key"], body["from"], body["to"]) == ("rectification_item", 1, 2)
    assert [(e["id"], e["type"]) for e in body["added"]] == [
        ("site_check", "userTask"),
        ("flow_check_to_closed", "sequenceFlow"),
    ]
    assert [e["id"] for e in body["removed"]] == [
        "deadline_overdue_watch",
        "deadline_overdue",
        "overdue_escalated",
        "flow_overdue",
    ]
    rectify = next(e for e in body["changed"] if e["id"] == "rectify")
    assert rectify == {
        "id": "rectify",
        "type": "userTask",
        "name": RENAMED,
        "changes": [
            {"aspect": "name", "field": None, "from": "整改落实 Rectify", "to": RENAMED},
            {"aspect": "field_limits", "field": "evidence", "from": {"maxLength": 5000}, "to": {"maxLength": 2000}},
            {"aspect": "field_required", "field": "evidence", "from": False, "to": True},
        ],
    }
    # The deadline watches concern every open item, whatever step it waits at.
    watches = [
        {"element": "deadline_warning", "name": "预警 Warning", "removed": False, "aspects": ["timer"]},
        {"element": "deadline_overdue_watch", "name": "逾期督办 Overdue escalation", "removed": True, "aspects": []},
        {"element": "deadline_overdue", "name": "逾期 Overdue", "removed": True, "aspects": []},
        {"element": "overdue_escalated", "name": "已督办 Escalated", "removed": True, "aspects": []},
        {"element": "flow_overdue", "name": "flow_overdue", "removed": True, "aspects": []},
    ]
    assert [(row["element"], row["reasons"][-len(watches) :]) for row in body["affected"]] == [
        (step, watches) for step in ("define_measures", "assign_owner", "rectify", "review")
    ]
    at_rectify, at_review = body["affected"][2:]
    assert (at_rectify["item_id"], at_rectify["title"], at_rectify["name"]) == (
        waiting["rectify"],
        "事项 at rectify",
        "整改落实 Rectify",
    )
    assert at_rectify["reasons"][0] == {
        "element": "rectify",
        "name": "整改落实 Rectify",
        "removed": False,
        "aspects": ["name", "field_limits", "field_required"],
    }
    assert (at_review["item_id"], at_review["reasons"][0]) == (
        waiting["review"],
        {"element": "review", "name": "审核验收 Review", "removed": False, "aspects": ["candidates"]},
    )


def test_administrators_and_auditors_may_compare_others_may_not(
    client: FlaskClient, people: People, waiting: dict[str, int]
) -> None:
    for username in ("admin", "auditor"):
        assert client.get(f"{URL}?from=1&to=2", headers=people.auth(username)).status_code == 200
    for username in ("reporter", "manager", "owner", "approver"):
        # Refused before the query is read: a bad one is a 403 too.
        assert problem(client.get(f"{URL}?from=1&to=2", headers=people.auth(username)), 403)["detail"]
        assert problem(client.get(f"{URL}?from=x", headers=people.auth(username)), 403)
    assert problem(client.get(f"{URL}?from=1&to=2"), 401)


def test_an_unknown_version_or_process_is_404_naming_from_or_to(client: FlaskClient, people: People) -> None:
    body = problem(client.get(f"{URL}?from=9&to=2", headers=people.auth("designer")), 404)
    assert [error["field"] for error in body["errors"]] == ["from"]
    body = problem(client.get(f"{URL}?from=1&to=9", headers=people.auth("designer")), 404)
    assert [error["field"] for error in body["errors"]] == ["to"]
    body = problem(client.get("/api/v1/processes/nothing/diff?from=1&to=2", headers=people.auth("designer")), 404)
    assert body["errors"][0]["field"] == "from"


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("from=2&to=2", ["to"]),
        ("from=one&to=2", ["from"]),
        ("from=1.5&to=2", ["from"]),
        ("from=1", ["to"]),
        ("to=0&from=1", ["to"]),
        ("from=99999999999&to=1", ["from"]),
    ],
)
def test_a_bad_query_is_422_naming_the_parameter(
    client: FlaskClient, people: People, query: str, fields: list[str]
) -> None:
    body = problem(client.get(f"{URL}?{query}", headers=people.auth("designer")), 422)
    assert [error["field"] for error in body["errors"]] == fields
