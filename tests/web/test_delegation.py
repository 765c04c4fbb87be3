"""Sign-off cannot be delegated away: ``POST /tasks/{id}/assign`` over HTTP.

Only a unit's task (lane rule ``department_*`` or ``unit_*``) is handed on, by a manager of that unit, to a
manager or member of it; a review or the owner's own step never is. Each refusal is a 403 in the admin log.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import CAST, People
from tests.web.test_login import admin_log
from tests.web.test_permissions import API, DATA, TASKS, assert_problem, complete, item_at, snapshot


@pytest.fixture
def cast(sessions: sessionmaker[Session], people: People) -> People:
    """The cast, plus a works manager who is also an approver and a plain office member."""
    tokens = dict(people.tokens)
    with transaction(sessions) as session:
        for username, department, roles in (
            ("boss", "works", ["manager", "approver"]),
            ("plain", "office", ["member"]),
        ):
            identity.add_user(session, username, department, roles)
            tokens[username] = identity.create_token(session, username)
    return People(tokens)


def assign(client: FlaskClient, people: People, user: str, task_id: int, assignee: str) -> TestResponse:
    return client.post(f"{API}/tasks/{task_id}/assign", json={"assignee": assignee}, headers=people.auth(user))


def test_the_issue_a_manager_and_approver_cannot_hand_the_review_to_a_member(client: FlaskClient, cast: People) -> None:
    item = item_at(client, cast, "review")
    (review,) = item["tasks"]
    before = snapshot(client, cast, item["id"])
    for assignee in ("plain", "owner"):
        refused = assert_problem(assign(client, cast, "boss", review["id"], assignee), 403)
        assert "review" in refused["detail"] and "approvers" in refused["detail"]
    assert snapshot(client, cast, item["id"]) == before
    # The member (and the owner) still may not approve; the item stays in review.
    assert_problem(complete(client, cast, "plain", review["id"], DATA["review"]), 403)
    assert_problem(complete(client, cast, "owner", review["id"], DATA["review"]), 403)
    assert snapshot(client, cast, item["id"]) == before
    denied = [e for e in admin_log(client, cast) if e["target"] == f"POST {API}/tasks/{review['id']}/assign"]
    assert [(e["actor"], e["action"]) for e in denied] == [("boss", "denied"), ("boss", "denied")]


# The rectification diagram's tasks and their lane rules: define_measures and assign_owner are the office's
# (department_managers), rectify is the owner's, review the approvers'.
DELEGATORS = {"define_measures": {"manager"}, "assign_owner": {"manager"}, "rectify": set(), "review": set()}


@pytest.mark.parametrize("task", TASKS)
def test_who_may_hand_each_task_on(client: FlaskClient, cast: People, task: str, subtests: pytest.Subtests) -> None:
    item = item_at(client, cast, task)
    (ready,) = item["tasks"]
    for user in [*CAST, "boss", "plain"]:
        with subtests.test(user=user):
            before = snapshot(client, cast, item["id"])
            response = assign(client, cast, user, ready["id"], "plain")
            if user in DELEGATORS[task]:
                assert response.status_code == 200, response.json
            else:
                assert_problem(response, 403)
                assert snapshot(client, cast, item["id"]) == before


@pytest.mark.parametrize(("assignee", "status"), [("outsider", 403), ("works_manager", 403), ("reporter", 403)])
def test_a_unit_task_goes_only_to_a_manager_or_member_of_its_unit(
    client: FlaskClient, cast: People, assignee: str, status: int
) -> None:
    item = item_at(client, cast, "define_measures")
    (ready,) = item["tasks"]
    refused = assert_problem(assign(client, cast, "manager", ready["id"], assignee), status)
    assert refused["errors"][0]["field"] == "assignee"
    assert_problem(assign(client, cast, "manager", ready["id"], "nobody_at_all"), 422)
    assigned = assign(client, cast, "manager", ready["id"], "owner")
    assert assigned.status_code == 200, assigned.json
    assert complete(client, cast, "owner", ready["id"], DATA["define_measures"]).status_code == 200
