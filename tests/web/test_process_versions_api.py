"""Versions for people: the version new items start on, retired versions, and each version's running items."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import CAST, People, deployment
from tests.web.test_login import admin_log
from tests.web.test_processes_api import API, KEY, assert_problem, complete, create_item, redesigned


def change(client: FlaskClient, people: People, version: int, user: str = "designer", **body: Any) -> TestResponse:
    return client.patch(f"{API}/processes/{KEY}/{version}", json=body, headers=people.auth(user))


def listed_versions(client: FlaskClient, people: People) -> list[tuple[int, bool, bool, int]]:
    processes = client.get(f"{API}/processes", headers=people.auth("auditor")).json["processes"]
    (process,) = [p for p in processes if p["key"] == KEY]
    return [(v["version"], v["default"], v["retired"], v["running"]) for v in process["versions"]]


def deploy_version_2(client: FlaskClient, people: People) -> None:
    response = client.post(
        f"{API}/processes",
        data=deployment(redesigned(), note="v2"),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert (response.status_code, response.json["version"]) == (201, 2), response.json


def test_new_items_start_on_the_latest_version_until_one_is_marked_default(client: FlaskClient, people: People) -> None:
    deploy_version_2(client, people)
    assert create_item(client, people)["process"]["version"] == 2

    marked = change(client, people, 1, default=True)
    assert marked.status_code == 200, marked.json
    assert (marked.json["version"], marked.json["default"], marked.json["retired"]) == (1, True, False)
    assert create_item(client, people)["process"]["version"] == 1
    # A later deployment does not move the mark.
    response = client.post(
        f"{API}/processes",
        data=deployment(redesigned().replace("现场核查".encode(), "实地核查".encode())),
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert response.json["version"] == 3
    assert create_item(client, people)["process"]["version"] == 1

    cleared = change(client, people, 1, default=False)
    assert cleared.json["default"] is False
    assert create_item(client, people)["process"]["version"] == 3
    assert [
        (entry["action"], entry["target"], entry["actor"])
        for entry in admin_log(client, people, action="process.default")
    ] == [("process.default", f"{KEY} v1", "designer")]
    assert [entry["target"] for entry in admin_log(client, people, action="process.default_cleared")] == [f"{KEY} v1"]


def test_a_retired_version_starts_no_new_item_while_its_running_items_go_on(
    client: FlaskClient, people: People
) -> None:
    running = create_item(client, people)
    deploy_version_2(client, people)
    assert listed_versions(client, people) == [(1, False, False, 1), (2, False, False, 0)]

    retired = change(client, people, 2, retired=True)
    assert (retired.status_code, retired.json["retired"]) == (200, True)
    refused = client.post(
        f"{API}/items", json={"title": "停用版本", "department": "office"}, headers=people.auth("reporter")
    )
    body = assert_problem(refused, 422)
    assert [error["field"] for error in body["errors"]] == ["process"]
    assert "Version 2 of process 'rectification_item' is retired" in body["detail"]

    # Retiring version 1 too: the item already on it goes on to the end.
    assert change(client, people, 1, retired=True).status_code == 200
    for user, data in [("manager", {"measures": "m"}), ("manager", {"owner": "owner"}), ("owner", {"result": "r"})]:
        running = complete(client, people, user, running, data)
    assert complete(client, people, "approver", running, {"decision": "approve"})["status"] == "closed"
    assert listed_versions(client, people) == [(1, False, True, 0), (2, False, True, 0)]

    assert change(client, people, 2, retired=False).json["retired"] is False
    assert create_item(client, people)["process"]["version"] == 2
    assert [entry["target"] for entry in admin_log(client, people, action="process.retire")] == [
        f"{KEY} v1",
        f"{KEY} v2",
    ]
    assert [entry["target"] for entry in admin_log(client, people, action="process.reinstate")] == [f"{KEY} v2"]


def test_the_default_cannot_be_retired_nor_a_retired_version_made_default(client: FlaskClient, people: People) -> None:
    deploy_version_2(client, people)
    assert change(client, people, 1, default=True).status_code == 200
    body = assert_problem(change(client, people, 1, retired=True), 422)
    assert [error["field"] for error in body["errors"]] == ["retired"]
    assert "is the default for new items" in body["detail"]
    assert change(client, people, 2, retired=True).status_code == 200
    body = assert_problem(change(client, people, 2, default=True), 422)
    assert [error["field"] for error in body["errors"]] == ["default"]
    assert listed_versions(client, people) == [(1, True, False, 0), (2, False, True, 0)]
    # Clearing the mark and retiring in one request is allowed.
    assert change(client, people, 1, default=False, retired=True).json == {
        **change(client, people, 1).json,
        "default": False,
        "retired": True,
    }


@pytest.mark.parametrize("user", [name for name, (_, roles) in CAST.items() if not {"designer", "admin"} & set(roles)])
def test_only_designers_and_administrators_mark_or_retire_versions(
    client: FlaskClient, people: People, user: str
) -> None:
    assert_problem(change(client, people, 1, user=user, retired=True), 403)
    assert_problem(change(client, people, 1, user=user, default=True), 403)
    assert listed_versions(client, people) == [(1, False, False, 0)]


def test_an_administrator_may_retire_and_an_unknown_version_is_404(client: FlaskClient, people: People) -> None:
    assert change(client, people, 1, user="admin", default=True).status_code == 200
    assert change(client, people, 1, user="admin", default=False).status_code == 200
    assert_problem(change(client, people, 7, retired=True), 404)
    assert_problem(change(client, people, 1, retired="soon"), 422)
    assert listed_versions(client, people) == [(1, False, False, 0)]
