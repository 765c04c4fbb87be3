"""OpenID Connect login against a real provider started by the test, through a real ``rectiflow serve``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.config import OidcSettings, Settings
from engine.store.db import transaction
from engine.store.models import AdminLogEntry, User
from tests.conftest import serve
from tests.oidc_provider import Provider, rsa_key, running_provider
from web import create_app, db

ROLE_MAP = "rf-managers=manager,rf-approvers=approver,rf-auditors=auditor"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        running.claims = {"sub": "u-1", "preferred_username": "wang", "name": "王五", "department": "办公室"}
        yield running


@pytest.fixture
def departments(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_department(session, "works", "工务科")
    return sessions


def oidc_env(provider: Provider) -> dict[str, str]:
    return {
        "RECTIFLOW_OIDC_ISSUER": provider.url,
        "RECTIFLOW_OIDC_CLIENT_ID": provider.client_id,
        "RECTIFLOW_OIDC_CLIENT_SECRET": provider.client_secret,
        "RECTIFLOW_OIDC_ROLE_MAP": ROLE_MAP,
        # The test server speaks plain HTTP, where a browser would not send a Secure cookie back.
        "RECTIFLOW_COOKIE_SECURE": "false",
    }


@pytest.fixture
def server(database_url: str, departments: sessionmaker[Session], tmp_path: Path, provider: Provider) -> Iterator[str]:
    with serve(database_url, tmp_path, oidc_env(provider)) as base:
        yield base


def log_in(browser: requests.Session, base: str, next_path: str = "/auth/session") -> requests.Response:
    """What a browser does: follow every redirect, from the login link to the provider and back."""
    return browser.get(f"{base}/auth/oidc/login", params={"next": next_path}, timeout=30)


def user_named(sessions: sessionmaker[Session], username: str) -> User | None:
    with sessions() as session:
        return session.scalar(select(User).where(User.username == username))


def log_entries(sessions: sessionmaker[Session], action: str) -> list[AdminLogEntry]:
    with sessions() as session:
        return list(session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == action)))


def assert_problem(response: requests.Response, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    for phrase in phrases:
        assert phrase in response.json()["detail"]


def test_a_login_creates_the_user_from_the_claims_and_lands_logged_in(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    # The roles come from /userinfo only, as many providers do; unmapped values are ignored.
    provider.userinfo_only = {"roles": ["rf-managers", "canteen-committee"]}
    browser = requests.Session()

    landed = log_in(browser, server, next_path="/auth/session")

    assert [urlsplit(hop.url).path for hop in landed.history] == [
        "/auth/oidc/login",
        "/authorize",
        "/auth/oidc/callback",
    ]
    assert landed.url == f"{server}/auth/session"
    assert landed.status_code == 200
    me = landed.json()
    assert (me["username"], me["display_name"]) == ("wang", "王五")
    assert (me["department"], me["roles"]) == ("office", ["manager"])
    user = user_named(departments, "wang")
    assert user is not None and user.department is not None and user.department.code == "office"
    [created] = log_entries(departments, "user.sso_create")
    assert (created.actor, created.target) == ("wang", "wang")
    assert created.detail == {"department": "office", "roles": ["manager"]}


def test_the_provider_stays_authoritative_at_each_login(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    provider.claims["roles"] = ["rf-managers"]
    log_in(requests.Session(), server)
    provider.claims.update(department="works", roles=["rf-approvers", "rf-auditors"], name="王五（工务）")

    me = log_in(requests.Session(), server).json()

    assert (me["display_name"], me["department"], me["roles"]) == ("王五（工务）", "works", ["approver", "auditor"])
    [updated] = log_entries(departments, "user.sso_update")
    assert updated.detail == {"department": ["office", "works"], "roles": [["manager"], ["approver", "auditor"]]}
    # A login that changes nothing logs nothing.
    log_in(requests.Session(), server)
    assert len(log_entries(departments, "user.sso_update")) == 1


def test_an_unknown_department_is_refused_and_no_user_is_made(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    provider.claims["department"] = "宣传科"
    browser = requests.Session()

    assert_problem(log_in(browser, server), 403, "Unknown department '宣传科'")

    assert user_named(departments, "wang") is None
    assert log_entries(departments, "user.sso_create") == []
    assert_problem(browser.get(f"{server}/auth/session", timeout=30), 401, "Nobody is logged in")


def test_a_deactivated_user_is_refused(server: str, provider: Provider, departments: sessionmaker[Session]) -> None:
    with transaction(departments) as session:
        user = identity.add_user(session, "wang", "office", ["member"])
        identity.link_sso(session, user, provider.url, "u-1")
        user.active = False

    assert_problem(log_in(requests.Session(), server), 403, "deactivated")


def test_users_are_known_by_their_subject_never_by_a_claimed_username(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    assert log_in(requests.Session(), server).json()["username"] == "wang"
    # Another person at the provider who claims the name "wang" (a renamed account, a provider that
    # lets people pick their preferred_username) is not wang here.
    provider.claims = {"sub": "u-2", "preferred_username": "wang", "name": "冒名者"}
    intruder = requests.Session()
    assert_problem(log_in(intruder, server), 403, "already exists here", "an administrator must link it")
    assert_problem(intruder.get(f"{server}/auth/session", timeout=30), 401)
    # wang's own subject still logs in as wang, whatever name the provider sends now.
    provider.claims = {"sub": "u-1", "preferred_username": "wang.wu", "name": "王五", "department": "办公室"}
    assert log_in(requests.Session(), server).json()["username"] == "wang"
    assert user_named(departments, "wang.wu") is None


def test_an_existing_password_account_is_linked_only_by_an_administrator(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    with transaction(departments) as session:
        identity.add_user(session, "wang", "office", ["manager"], password="wang's own password")
        identity.add_user(session, "root", None, ["admin"])
        admin = {"Authorization": f"Bearer {identity.create_token(session, 'root')}"}
    browser = requests.Session()

    refused = log_in(browser, server)

    assert_problem(refused, 403, "A user 'wang' already exists here", "link-sso")
    assert_problem(browser.get(f"{server}/auth/session", timeout=30), 401)
    link = requests.put(f"{server}/api/v1/users/wang/sso", json={"subject": "u-1"}, headers=admin, timeout=30)
    assert link.status_code == 200, link.text
    assert log_in(browser, server).json()["username"] == "wang"
    [linked] = log_entries(departments, "user.sso_link")
    assert (linked.actor, linked.target, linked.detail["subject"]) == ("root", "wang", "u-1")
    assert log_entries(departments, "user.sso_create") == []
    # One subject, one user.
    taken = requests.put(f"{server}/api/v1/users/root/sso", json={"subject": "u-1"}, headers=admin, timeout=30)
    assert_problem(taken, 409, "is linked to 'wang'")


def test_a_token_signed_by_another_key_is_refused(
    server: str, provider: Provider, departments: sessionmaker[Session]
) -> None:
    provider.signing_key = rsa_key()  # same key id as the published key, different key

    assert_problem(log_in(requests.Session(), server), 401, "ID token was rejected")
    assert user_named(departments, "wang") is None


def test_a_callback_with_a_forged_or_replayed_state_is_refused(server: str, provider: Provider) -> None:
    browser = requests.Session()
    to_provider = browser.get(f"{server}/auth/oidc/login", allow_redirects=False, timeout=30)
    to_callback = browser.get(to_provider.headers["Location"], allow_redirects=False, timeout=30)
    callback = urlsplit(to_callback.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(callback.query).items()}
    url = f"{server}{callback.path}"

    forged = browser.get(f"{url}?{urlencode({**query, 'state': 'forged'})}", timeout=30)
    assert_problem(forged, 400, "does not match a login started in this browser")
    # The provider's genuine answer, carried to another browser (login CSRF), is refused too.
    assert_problem(requests.get(f"{url}?{urlencode(query)}", timeout=30), 400, "does not match")
    genuine = browser.get(f"{url}?{urlencode(query)}", allow_redirects=False, timeout=30)
    assert (genuine.status_code, genuine.headers["Location"]) == (302, "/")
    # A state is good once.
    assert_problem(browser.get(f"{url}?{urlencode(query)}", timeout=30), 400, "does not match")


def test_a_refusal_by_the_provider_is_a_clear_401(server: str, provider: Provider) -> None:
    provider.refuse = "access_denied"

    assert_problem(log_in(requests.Session(), server), 401, "refused the login", "access_denied")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "items"])
def test_next_must_be_a_path_on_this_site(server: str, target: str) -> None:
    response = requests.get(f"{server}/auth/oidc/login", params={"next": target}, allow_redirects=False, timeout=30)

    assert_problem(response, 400, "next must be a path on this site")


def test_logout_needs_the_csrf_token_and_ends_the_session_and_its_copies(server: str, provider: Provider) -> None:
    browser = requests.Session()
    landed = log_in(browser, server)
    set_cookie = landed.history[-1].headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # RECTIFLOW_COOKIE_SECURE=false on this plain-HTTP server
    copied = browser.cookies.get_dict()  # what a thief or a shared computer keeps

    assert_problem(browser.post(f"{server}/auth/logout", timeout=30), 400, "CSRF")  # another site's form
    csrf_token = browser.get(f"{server}/auth/session", timeout=30).json()["csrf_token"]
    assert browser.post(f"{server}/auth/logout", headers={"X-CSRFToken": csrf_token}, timeout=30).status_code == 204

    assert_problem(browser.get(f"{server}/auth/session", timeout=30), 401, "Nobody is logged in")
    replayed = requests.get(f"{server}/auth/session", cookies=copied, timeout=30)
    assert_problem(replayed, 401, "Nobody is logged in")


# Where HTTP is not the point: the app in-process, with its default (production) cookie settings.


@pytest.fixture
def oidc_app(
    database_url: str, departments: sessionmaker[Session], tmp_path: Path, provider: Provider
) -> Iterator[Flask]:
    settings = OidcSettings(issuer=provider.url, client_id=provider.client_id, client_secret=provider.client_secret)
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "OIDC": settings, "TESTING": True})
    yield app
    db.dispose(app)


def test_by_default_the_session_cookie_is_secure_httponly_and_lax(oidc_app: Flask, provider: Provider) -> None:
    client = oidc_app.test_client()
    provider.claims["roles"] = ["approver", "not-a-role"]  # without a role map, role names count as they are
    to_provider = client.get("/auth/oidc/login", base_url="https://rectiflow.example")
    to_callback = requests.get(to_provider.headers["Location"], allow_redirects=False, timeout=30)
    callback = urlsplit(to_callback.headers["Location"])
    assert callback.netloc == "rectiflow.example"

    landed = client.get(f"{callback.path}?{callback.query}", base_url="https://rectiflow.example")

    assert (landed.status_code, landed.headers["Location"]) == (302, "/")
    cookie = landed.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax")), cookie
    me = client.get("/auth/session", base_url="https://rectiflow.example").json
    assert me is not None and me["roles"] == ["approver"]
    # A session ends RECTIFLOW_SESSION_HOURS (12) after its login, whatever the browser keeps.
    with time_machine.travel(dt.timedelta(hours=12, minutes=1)):
        late = client.get("/auth/session", base_url="https://rectiflow.example")
    assert late.status_code == 401


def test_without_oidc_the_login_route_does_not_exist(client: FlaskClient) -> None:
    response = client.get("/auth/oidc/login")

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_the_session_key_is_made_once_per_instance_folder(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    first = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path})
    second = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path})
    given = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path / "b", "SECRET_KEY": "from-env"})

    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert given.config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "b" / "secret_key").exists()
    for app in (first, second, given):
        db.dispose(app)


def test_an_unreachable_provider_is_a_502_not_a_500(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = OidcSettings(issuer=f"http://127.0.0.1:{port}", client_id="c", client_secret="s")
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "OIDC": settings})

    response = app.test_client().get("/auth/oidc/login")

    assert (response.status_code, response.content_type) == (502, "application/problem+json")
    assert "Cannot read" in response.json["detail"]  # type: ignore[index]
    db.dispose(app)


def test_oidc_settings_are_read_and_checked_at_start(tmp_path: Path) -> None:
    env = {
        "RECTIFLOW_INSTANCE_PATH": str(tmp_path),
        "RECTIFLOW_OIDC_ISSUER": "https://id.example/realms/gov",
        "RECTIFLOW_OIDC_CLIENT_ID": "rectiflow",
        "RECTIFLOW_OIDC_CLIENT_SECRET": "s",
        "RECTIFLOW_OIDC_ROLE_MAP": "leaders=approver, leaders=auditor, staff=member",
    }
    oidc = Settings.from_env(env).oidc
    assert oidc is not None and oidc.metadata_url == "https://id.example/realms/gov/.well-known/openid-configuration"
    assert (oidc.scopes, oidc.username_claim, oidc.department_claim, oidc.roles_claim) == (
        "openid profile",
        "preferred_username",
        "department",
        "roles",
    )
    assert oidc.role_map == {"leaders": {"approver", "auditor"}, "staff": {"member"}}
    assert Settings.from_env({"RECTIFLOW_INSTANCE_PATH": str(tmp_path)}).oidc is None
    for wrong, message in [
        ({"RECTIFLOW_OIDC_CLIENT_SECRET": ""}, "_CLIENT_SECRET are needed"),
        ({"RECTIFLOW_OIDC_SCOPES": "profile email"}, "must include openid"),
        ({"RECTIFLOW_OIDC_ROLE_MAP": "leaders"}, "is not idp-value=role"),
        ({"RECTIFLOW_COOKIE_SECURE": "maybe"}, "must be true or false"),
    ]:
        with pytest.raises(ValueError, match=message):
            Settings.from_env({**env, **wrong})
    unknown_role = dataclasses.replace(oidc, role_map={"leaders": frozenset({"mayor"})})
    with pytest.raises(ValueError, match="unknown role"):
        create_app(
            {"INSTANCE_PATH": tmp_path, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "OIDC": unknown_role}
        )
