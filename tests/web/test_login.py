"""Password login, its rate limits and lock-out, and the tokens a user holds."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.config import Settings
from engine.store.db import transaction
from tests.conftest import People
from tests.web.test_permissions import assert_problem
from web import create_app, db

API = "/api/v1"
PASSWORD = "manager's good password"


@pytest.fixture
def with_password(people: People, sessions: sessionmaker[Session]) -> People:
    with transaction(sessions) as session:
        identity.set_password(session, identity.user_by_username(session, "manager"), PASSWORD)
    return people


def admin_log(client: FlaskClient, people: People, **query: Any) -> list[dict[str, Any]]:
    response = client.get(
        f"{API}/audit/admin-log", query_string={"per_page": 500, **query}, headers=people.auth("auditor")
    )
    assert response.status_code == 200, response.json
    entries: list[dict[str, Any]] = response.json["entries"]
    return entries


def login(client: FlaskClient, username: str, password: str) -> Any:
    return client.post(f"{API}/auth/token", json={"username": username, "password": password})


def test_a_password_is_exchanged_for_an_expiring_token_over_http(live_server: str, with_password: People) -> None:
    url = f"{live_server}{API}/auth/token"
    before = dt.datetime.now(dt.UTC)
    issued = requests.post(url, json={"username": "manager", "password": PASSWORD}, timeout=30)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert before + dt.timedelta(minutes=479) < expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(minutes=480)
    inbox = requests.get(f"{live_server}{API}/tasks", headers={"Authorization": f"Bearer {body['token']}"}, timeout=30)
    assert inbox.status_code == 200

    refusals = [
        requests.post(url, json={"username": "manager", "password": "not the password"}, timeout=30),
        requests.post(url, json={"username": "nobody", "password": PASSWORD}, timeout=30),
        # A user without a password (tokens only) is refused the same way.
        requests.post(url, json={"username": "auditor", "password": PASSWORD}, timeout=30),
    ]
    assert {(r.status_code, r.headers["Content-Type"], r.json()["detail"]) for r in refusals} == {
        (401, "application/problem+json", "用户名或密码错误 Wrong username or password.")
    }


def test_failed_logins_lock_the_name_out_with_429_and_retry_after(live_server: str, with_password: People) -> None:
    url = f"{live_server}{API}/auth/token"
    wrong = {"username": "manager", "password": "guess number n"}
    assert [requests.post(url, json=wrong, timeout=30).status_code for _ in range(5)] == [401] * 5
    for attempt in ({"username": "manager", "password": PASSWORD}, wrong):
        locked = requests.post(url, json=attempt, timeout=30)
        assert locked.status_code == 429
        assert locked.headers["Content-Type"] == "application/problem+json"
        assert "Too many failed logins" in locked.json()["detail"]
        assert 0 < int(locked.headers["Retry-After"]) <= 60
    # Another name from the same address is not locked out.
    with_password_other = {"username": "nobody", "password": "x"}
    assert requests.post(url, json=with_password_other, timeout=30).status_code == 401

    auditor = with_password.auth("auditor")
    log = requests.get(f"{live_server}{API}/audit/admin-log", headers=auditor, timeout=30).json()["entries"]
    failed = [e for e in log if e["action"] == "login.failed"]
    assert [e["target"] for e in failed] == ["nobody"] + ["manager"] * 5
    assert {e["actor"] for e in failed} == {None}
    assert {e["remote_addr"] for e in failed} == {"127.0.0.1"}
    (locked_entry,) = [e for e in log if e["action"] == "login.locked"]  # once, though refused twice
    assert (locked_entry["target"], locked_entry["detail"]["scope"]) == ("manager", "user")


def test_the_lock_lifts_when_the_window_has_passed(client: FlaskClient, with_password: People) -> None:
    with time_machine.travel("2026-11-10T02:00:00+00:00", tick=False) as clock:
        for _ in range(5):
            assert login(client, "manager", "wrong password").status_code == 401
        clock.shift(30)
        assert_problem(login(client, "manager", PASSWORD), 429)
        clock.shift(31)
        assert login(client, "manager", PASSWORD).status_code == 201


def test_right_passwords_never_count_towards_a_lock_out(client: FlaskClient, with_password: People) -> None:
    assert [login(client, "manager", PASSWORD).status_code for _ in range(8)] == [201] * 8


def test_one_address_trying_many_names_is_limited_too(
    database_url: str, sessions: sessionmaker[Session], with_password: People, tmp_path: Path
) -> None:
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "LOGIN_ADDRESS_LIMIT": "3 per minute"})
    try:
        client = app.test_client()
        assert [login(client, f"user{n}", "guess number one").status_code for n in range(4)] == [401, 401, 401, 429]
        assert_problem(login(client, "manager", PASSWORD), 429)
        (locked,) = [e for e in admin_log(client, with_password) if e["action"] == "login.locked"]
        assert locked["detail"]["scope"] == "address"
    finally:
        db.dispose(app)


def test_a_malformed_login_is_422_and_costs_nothing(client: FlaskClient, with_password: People) -> None:
    for body in ({}, {"username": "manager"}, {"username": "", "password": "x"}, {"username": 5, "password": []}):
        assert_problem(client.post(f"{API}/auth/token", json=body), 422)
    for _ in range(6):
        assert_problem(client.post(f"{API}/auth/token", json={"username": "manager"}), 422)
    assert login(client, "manager", PASSWORD).status_code == 201


def test_an_expired_login_token_is_refused(client: FlaskClient, with_password: People) -> None:
    with time_machine.travel("2026-11-10T02:00:00+00:00", tick=False) as clock:
        token = login(client, "manager", PASSWORD).json["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get(f"{API}/tasks", headers=bearer).status_code == 200
        clock.shift(dt.timedelta(minutes=480))
        assert_problem(client.get(f"{API}/tasks", headers=bearer), 401)


def test_my_tokens_are_listed_with_last_use_and_never_their_secret(client: FlaskClient, with_password: People) -> None:
    token = login(client, "manager", PASSWORD).json["token"]
    mine = client.get(f"{API}/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    assert token not in mine.get_data(as_text=True)
    listed = mine.json["tokens"]
    assert [(t["name"], t["username"], t["revoked_at"]) for t in listed] == [
        ("", "manager", None),
        ("login", "manager", None),
    ]
    assert listed[1]["last_used_at"] is not None  # this very request
    assert listed[1]["expires_at"] is not None and listed[0]["expires_at"] is None

    as_admin = client.get(f"{API}/auth/tokens?username=manager", headers=with_password.auth("admin"))
    assert [t["id"] for t in as_admin.json["tokens"]] == [t["id"] for t in listed]
    assert_problem(client.get(f"{API}/auth/tokens?username=manager", headers=with_password.auth("owner")), 403)
    assert_problem(client.get(f"{API}/auth/tokens?username=ghost", headers=with_password.auth("admin")), 404)


def test_revoking_and_logging_out(client: FlaskClient, with_password: People) -> None:
    people = with_password
    first = login(client, "manager", PASSWORD).json
    second = login(client, "manager", PASSWORD).json
    me = {"Authorization": f"Bearer {first['token']}"}

    assert_problem(client.delete(f"{API}/auth/tokens/{second['id']}", headers=people.auth("owner")), 403)
    assert_problem(client.delete(f"{API}/auth/tokens/999999", headers=me), 404)
    assert client.delete(f"{API}/auth/tokens/{second['id']}", headers=me).status_code == 204
    assert_problem(client.get(f"{API}/tasks", headers={"Authorization": f"Bearer {second['token']}"}), 401)

    assert client.post(f"{API}/auth/logout", headers=me).status_code == 204
    assert_problem(client.get(f"{API}/tasks", headers=me), 401)

    owners_token = client.get(f"{API}/auth/tokens", headers=people.auth("owner")).json["tokens"][0]["id"]
    assert client.delete(f"{API}/auth/tokens/{owners_token}", headers=people.auth("admin")).status_code == 204
    assert_problem(client.get(f"{API}/tasks", headers=people.auth("owner")), 401)

    revoked = [(e["actor"], e["target"]) for e in admin_log(client, people, action="token.revoke")]
    assert revoked == [("admin", str(owners_token)), ("manager", str(first["id"])), ("manager", str(second["id"]))]


# A name is one name however it is typed: spaces around it, full-width letters, an ideographic space.
VARIANTS = [" manager", "manager\u3000", "ｍａｎａｇｅｒ", "manager ", "\tmanager"]


def test_spellings_of_a_name_share_its_lock_out(client: FlaskClient, with_password: People) -> None:
    assert [login(client, name, "wrong password").status_code for name in VARIANTS] == [401] * 5

    assert_problem(login(client, "manager", PASSWORD), 429)
    failed = [e["target"] for e in admin_log(client, with_password, action="login.failed")]
    assert failed == ["manager"] * 5


def test_a_name_typed_with_spaces_or_full_width_logs_in_as_that_user(
    client: FlaskClient, with_password: People
) -> None:
    issued = login(client, "ｍａｎａｇｅｒ\u3000", PASSWORD)
    assert issued.status_code == 201, issued.json
    mine = client.get(f"{API}/auth/tokens", headers={"Authorization": f"Bearer {issued.json['token']}"})
    assert {t["username"] for t in mine.json["tokens"]} == {"manager"}


def test_names_that_are_not_in_their_one_spelling_cannot_be_created(client: FlaskClient, people: People) -> None:
    for name in ("manager\u3000", "ｍａｎａｇｅｒ", " newcomer"):
        body = {"username": name, "roles": ["member"]}
        problem = assert_problem(client.post(f"{API}/users", json=body, headers=people.auth("admin")), 422)
        assert "must be written" in problem["detail"]
    assert client.get(f"{API}/users/newcomer", headers=people.auth("admin")).status_code == 404


def test_parallel_wrong_logins_are_each_counted_before_their_password_is_checked(
    live_server: str, with_password: People
) -> None:
    url = f"{live_server}{API}/auth/token"
    wrong = {"username": "manager", "password": "one of many guesses"}
    # All sent at once over separate connections; the server checks 8 at a time (waitress threads).
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda _: requests.post(url, json=wrong, timeout=60).status_code, range(24)))

    assert sorted(statuses) == [401] * 5 + [429] * 19


def proxied_app(database_url: str, tmp_path: Path, proxies: int) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": tmp_path,
            "LOGIN_ADDRESS_LIMIT": "2 per minute",
            "TRUSTED_PROXIES": proxies,
        }
    )


def login_from(client: FlaskClient, address: str, name: str) -> int:
    # The proxy appends the address it saw; what the client wrote itself comes first.
    forwarded = {"X-Forwarded-For": f"198.51.100.66, {address}"}
    response = client.post(f"{API}/auth/token", json={"username": name, "password": "guess"}, headers=forwarded)
    return response.status_code


def test_behind_a_trusted_proxy_the_address_limit_is_per_person(
    database_url: str, with_password: People, tmp_path: Path
) -> None:
    app = proxied_app(database_url, tmp_path, proxies=1)
    try:
        client = app.test_client()
        assert [login_from(client, "203.0.113.1", f"user{n}") for n in range(3)] == [401, 401, 429]
        assert login_from(client, "203.0.113.2", "user9") == 401  # someone else behind the same proxy
        failed = admin_log(client, with_password, action="login.failed")
        assert [e["remote_addr"] for e in failed] == ["203.0.113.2", "203.0.113.1", "203.0.113.1"]
    finally:
        db.dispose(app)


def test_without_trusted_proxies_a_forged_forwarded_header_changes_nothing(
    database_url: str, with_password: People, tmp_path: Path
) -> None:
    app = proxied_app(database_url, tmp_path, proxies=0)
    try:
        client = app.test_client()
        assert [login_from(client, f"203.0.113.{n}", f"user{n}") for n in range(3)] == [401, 401, 429]
        failed = admin_log(client, with_password, action="login.failed")
        assert {e["remote_addr"] for e in failed} == {"127.0.0.1"}
    finally:
        db.dispose(app)


def test_trusted_proxies_must_be_a_count(tmp_path: Path) -> None:
    assert Settings.from_env({"RECTIFLOW_INSTANCE_PATH": str(tmp_path)}).trusted_proxies == 0
    assert Settings.from_env({"RECTIFLOW_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    with pytest.raises(ValueError, match="RECTIFLOW_TRUSTED_PROXIES must be a whole number"):
        Settings.from_env({"RECTIFLOW_TRUSTED_PROXIES": "yes"})
