"""Administrators manage people and departments over HTTP; nobody else may, and each change is logged."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import CAST, People
from tests.web.test_login import admin_log, login
from tests.web.test_permissions import assert_problem

API = "/api/v1"
NEW_USER = {"username": "zhao", "display_name": "赵主任", "department": "office", "roles": ["manager"]}


def test_an_administrator_adds_a_department_and_a_user_who_then_logs_in(client: FlaskClient, people: People) -> None:
    admin = people.auth("admin")
    department = client.post(
        f"{API}/departments", json={"code": "civil", "name": "市民政局", "external": True}, headers=admin
    )
    assert department.status_code == 201, department.json
    codes = [d["code"] for d in client.get(f"{API}/departments", headers=admin).json["departments"]]
    assert codes == ["civil", "office", "works"]

    body = {**NEW_USER, "department": "civil", "password": "a long enough secret"}
    created = client.post(f"{API}/users", json=body, headers=admin)
    assert created.status_code == 201, created.json
    assert created.headers["Location"] == f"{API}/users/zhao"
    assert created.json == {
        "username": "zhao",
        "display_name": "赵主任",
        "department": "civil",
        "roles": ["manager"],
        "active": True,
        "created_at": created.json["created_at"],
    }
    assert "password" not in client.get(f"{API}/users/zhao", headers=admin).get_data(as_text=True)
    assert "zhao" in [u["username"] for u in client.get(f"{API}/users", headers=admin).json["users"]]
    assert login(client, "zhao", "a long enough secret").status_code == 201

    logged = [(e["actor"], e["action"], e["target"]) for e in admin_log(client, people)]
    assert logged == [("admin", "user.create", "zhao"), ("admin", "department.create", "civil")]


def test_an_administrator_changes_roles_department_activity_and_password(client: FlaskClient, people: People) -> None:
    admin = people.auth("admin")
    assert (
        client.post(f"{API}/users", json={**NEW_USER, "password": "first password!"}, headers=admin).status_code == 201
    )
    session_token = login(client, "zhao", "first password!").json["token"]

    changed = client.patch(
        f"{API}/users/zhao",
        json={"roles": ["approver", "manager"], "department": None, "display_name": "赵处长"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["roles"], changed.json["department"], changed.json["display_name"]) == (
        ["approver", "manager"],
        None,
        "赵处长",
    )
    assert client.patch(f"{API}/users/zhao", json={"password": "second password"}, headers=admin).status_code == 200
    # A new password ends the sessions made with the old one.
    assert_problem(client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {session_token}"}), 401)
    assert_problem(login(client, "zhao", "first password!"), 401)
    assert login(client, "zhao", "second password").status_code == 201

    assert client.patch(f"{API}/users/zhao", json={"active": False}, headers=admin).json["active"] is False
    assert_problem(login(client, "zhao", "second password"), 401)

    log = {e["action"]: e for e in admin_log(client, people, actor="admin")}
    assert log["user.roles"]["detail"] == {"before": ["manager"], "after": ["approver", "manager"]}
    assert log["user.password"]["detail"] == {"login_tokens_revoked": 1}
    assert "second password" not in str(log)
    updates = [e["detail"]["changes"] for e in admin_log(client, people, action="user.update")]
    assert updates == [
        {"active": [True, False]},
        {"display_name": ["赵主任", "赵处长"], "department": ["office", None]},
    ]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (NEW_USER | {"username": "manager"}, 409),
        (NEW_USER | {"roles": ["boss"]}, 422),
        (NEW_USER | {"roles": []}, 422),
        (NEW_USER | {"department": "nowhere"}, 422),
        (NEW_USER | {"password": "short"}, 422),
        ({"display_name": "no username"}, 422),
    ],
)
def test_bad_users_are_refused_for_what_they_are(
    client: FlaskClient, people: People, body: dict[str, Any], status: int
) -> None:
    assert_problem(client.post(f"{API}/users", json=body, headers=people.auth("admin")), status)
    assert [u["username"] for u in client.get(f"{API}/users", headers=people.auth("admin")).json["users"]] == sorted(
        CAST
    )


def test_a_duplicate_department_is_409_and_an_unknown_user_404(client: FlaskClient, people: People) -> None:
    admin = people.auth("admin")
    assert_problem(client.post(f"{API}/departments", json={"code": "office", "name": "另一个"}, headers=admin), 409)
    assert_problem(client.get(f"{API}/users/ghost", headers=admin), 404)
    assert_problem(client.patch(f"{API}/users/ghost", json={"active": False}, headers=admin), 404)


def test_only_administrators_manage_people_and_every_refusal_is_logged(
    client: FlaskClient, people: People, subtests: pytest.Subtests
) -> None:
    attempts = [
        ("GET", f"{API}/users", None),
        ("POST", f"{API}/users", NEW_USER),
        ("GET", f"{API}/users/manager", None),
        ("PATCH", f"{API}/users/manager", {"roles": ["admin"]}),
        ("GET", f"{API}/departments", None),
        ("POST", f"{API}/departments", {"code": "x", "name": "x"}),
    ]
    others = [user for user in CAST if user != "admin"]
    for user in others:
        with subtests.test(user=user):
            for method, url, body in attempts:
                assert_problem(client.open(url, method=method, json=body, headers=people.auth(user)), 403)
    assert client.get(f"{API}/users/manager", headers=people.auth("admin")).json["roles"] == ["manager"]
    denied = admin_log(client, people, action="denied")
    assert len(denied) == len(others) * len(attempts)
    assert {(e["actor"], e["target"]) for e in denied if e["actor"] == "owner"} == {
        ("owner", f"{method} {url.removeprefix('http://localhost')}") for method, url, _ in attempts
    }
    assert {e["remote_addr"] for e in denied} == {"127.0.0.1"}
