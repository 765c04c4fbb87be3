"""The admin log: denials and deployments are recorded, and only auditors and administrators read it."""

from __future__ import annotations

import pytest
import time_machine
from flask.testing import FlaskClient

from tests.conftest import People, deployment
from tests.web.test_login import admin_log
from tests.web.test_permissions import API, assert_problem, changed_diagram, items_total


def deploy(client: FlaskClient, people: People, user: str, xml: bytes) -> int:
    response = client.post(
        f"{API}/processes",
        data=deployment(xml),
        content_type="multipart/form-data",
        headers=people.auth(user),
    )
    return response.status_code


def test_a_denied_action_is_logged_though_the_request_changed_nothing(client: FlaskClient, people: People) -> None:
    refused = client.post(
        f"{API}/items", json={"title": "审计员不能登记", "department": "office"}, headers=people.auth("auditor")
    )
    assert_problem(refused, 403)
    assert items_total(client, people) == 0
    (entry,) = admin_log(client, people)
    assert (entry["actor"], entry["action"], entry["target"], entry["remote_addr"]) == (
        "auditor",
        "denied",
        "POST /api/v1/items",
        "127.0.0.1",
    )
    assert entry["detail"]["reason"] == refused.json["detail"]


def test_deployments_are_logged_with_the_version(client: FlaskClient, people: People) -> None:
    assert deploy(client, people, "designer", changed_diagram()) == 201
    assert deploy(client, people, "designer", changed_diagram()) == 200
    assert deploy(client, people, "reporter", changed_diagram()) == 403
    logged = [(e["actor"], e["action"], e["target"], e["detail"].get("created")) for e in admin_log(client, people)]
    assert logged == [
        ("reporter", "denied", "POST /api/v1/processes", None),
        ("designer", "process.deploy", "rectification_item v2", False),
        ("designer", "process.deploy", "rectification_item v2", True),
    ]


def test_auditors_filter_and_page_through_the_log(client: FlaskClient, people: People) -> None:
    for day, user in (("2026-11-09", "reporter"), ("2026-11-10", "owner"), ("2026-11-11", "owner")):
        with time_machine.travel(f"{day}T02:00:00+00:00", tick=False):
            assert_problem(client.get(f"{API}/users", headers=people.auth(user)), 403)

    def actors(**query: str | int) -> list[str]:
        return [e["actor"] for e in admin_log(client, people, **query)]

    assert actors() == ["owner", "owner", "reporter"]
    assert actors(actor="owner") == ["owner", "owner"]
    assert actors(action="user.create") == []
    assert actors(since="2026-11-10") == ["owner", "owner"]
    assert actors(until="2026-11-10") == ["owner", "reporter"]
    assert actors(since="2026-11-10", until="2026-11-10") == ["owner"]
    page = client.get(f"{API}/audit/admin-log?per_page=2&page=2", headers=people.auth("admin")).json
    assert (page["total"], page["page"], [e["actor"] for e in page["entries"]]) == (3, 2, ["reporter"])
    assert_problem(client.get(f"{API}/audit/admin-log?per_page=0", headers=people.auth("auditor")), 422)


@pytest.mark.parametrize("user", ["reporter", "manager", "designer", "approver"])
def test_others_may_not_read_the_log_and_trying_is_logged(client: FlaskClient, people: People, user: str) -> None:
    assert_problem(client.get(f"{API}/audit/admin-log", headers=people.auth(user)), 403)
    (entry,) = admin_log(client, people)
    assert (entry["actor"], entry["target"]) == (user, "GET /api/v1/audit/admin-log")
