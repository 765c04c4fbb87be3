"""Browser sessions end when they should, refused pages are 403 pages, and ``next=`` never leaves the site."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import People
from tests.web.test_login import admin_log
from web import create_app, db

API = "/api/v1"
PASSWORD = "a browser password of some length"


@pytest.fixture
def site(database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Flask]:
    """The app over plain HTTP (a test client sends no Secure-only cookie back), the cast with passwords."""
    with transaction(sessions) as session:
        for name in ("manager", "owner", "admin"):
            identity.set_password(session, identity.user_by_username(session, name), PASSWORD)
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "COOKIE_SECURE": False})
    yield app
    db.dispose(app)


def form_token(client: FlaskClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert found, "the login page has a CSRF token"
    return found.group(1)


def page_login(client: FlaskClient, username: str, password: str = PASSWORD, **form: str) -> FlaskClient:
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": form_token(client), **form}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def signed_in(client: FlaskClient) -> str | None:
    response = client.get("/auth/session")
    return response.json["username"] if response.status_code == 200 and response.json else None


def session_token(client: FlaskClient) -> str:
    body = client.get("/auth/session").json
    assert body is not None
    return str(body["csrf_token"])


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same cookie (a thief, a shared computer)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def test_logging_out_needs_the_csrf_token_and_ends_every_copy_of_the_session(site: Flask) -> None:
    browser = page_login(site.test_client(), "manager")
    thief = copy_of(site, browser)
    assert signed_in(thief) == "manager"

    assert browser.post("/logout").status_code == 400  # another site's form cannot log anyone out
    assert signed_in(browser) == "manager"
    assert browser.post("/logout", data={"csrf_token": session_token(browser)}).status_code == 302

    assert (signed_in(browser), signed_in(thief)) == (None, None)
    assert thief.get("/").status_code == 302  # the pages send the copy to the login page
    assert signed_in(page_login(site.test_client(), "manager")) == "manager"  # and a new login works


def _new_password(site: Flask, people: People) -> None:
    changed = site.test_client().patch(
        f"{API}/users/manager", json={"password": "another good password"}, headers=people.auth("admin")
    )
    assert changed.status_code == 200, changed.json


def _deactivated_and_back(site: Flask, people: People) -> None:
    for active in (False, True):
        response = site.test_client().patch(
            f"{API}/users/manager", json={"active": active}, headers=people.auth("admin")
        )
        assert response.status_code == 200, response.json


def _signed_out_by_api(site: Flask, people: People) -> None:
    response = site.test_client().post(f"{API}/users/manager/sign-out", headers=people.auth("admin"))
    assert response.status_code == 204, response.get_data(as_text=True)


def _signed_out_on_the_admin_page(site: Flask, people: People) -> None:
    admin = page_login(site.test_client(), "admin")
    response = admin.post("/admin/users/manager/sign-out", data={"csrf_token": session_token(admin)})
    assert (response.status_code, response.headers["Location"]) == (302, "/admin?user=manager"), response.text


ENDINGS: dict[str, tuple[Callable[[Flask, People], None], str]] = {
    "new password": (_new_password, "user.password"),
    "deactivated, then active again": (_deactivated_and_back, "user.update"),
    "sign out everywhere (API)": (_signed_out_by_api, "user.sign_out"),
    "sign out everywhere (admin page)": (_signed_out_on_the_admin_page, "user.sign_out"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_sessions_and_login_tokens_end_with_a_password_deactivation_or_sign_out(
    site: Flask, people: People, ending: str
) -> None:
    action, logged_as = ENDINGS[ending]
    browser = page_login(site.test_client(), "manager")
    issued = site.test_client().post(f"{API}/auth/token", json={"username": "manager", "password": PASSWORD})
    login_token = {"Authorization": f"Bearer {issued.json['token']}"}  # type: ignore[index]
    bystander = page_login(site.test_client(), "owner")

    action(site, people)

    assert signed_in(browser) is None
    assert site.test_client().get(f"{API}/tasks", headers=login_token).status_code == 401
    assert signed_in(bystander) == "owner"  # only this person's sessions end
    assert site.test_client().get(f"{API}/tasks", headers=people.auth("manager")).status_code == 200  # a program's
    entries = admin_log(site.test_client(), people, action=logged_as)
    assert [entry["target"] for entry in entries] == ["manager"] * len(entries) and entries


def test_signing_out_someone_else_is_for_administrators(site: Flask, people: People) -> None:
    client = site.test_client()
    assert client.post(f"{API}/users/manager/sign-out", headers=people.auth("owner")).status_code == 403
    assert client.post(f"{API}/users/nobody/sign-out", headers=people.auth("admin")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin"), ("POST", "/admin/users/manager/sign-out"), ("GET", "/designer")]
)
def test_a_refused_page_is_a_403_page_and_logged_once(site: Flask, people: People, method: str, path: str) -> None:
    browser = page_login(site.test_client(), "owner")
    manager = page_login(site.test_client(), "manager")

    response = browser.open(path, method=method, data={"csrf_token": session_token(browser)})

    assert (response.status_code, response.mimetype) == (403, "text/html")
    assert "没有权限" in response.get_data(as_text=True)
    denied = admin_log(site.test_client(), people, action="denied")
    assert [(entry["actor"], entry["target"]) for entry in denied] == [("owner", f"{method} {path}")]
    assert signed_in(manager) == "manager"  # and the refused request changed nothing


EVIL = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/%09/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
]


@pytest.mark.parametrize("target", EVIL)
def test_next_never_leads_off_the_site(site: Flask, target: str) -> None:
    client = site.test_client()

    language = client.get("/language/en", query_string={"next": target})
    shown = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    logged_in = client.post(
        "/login",
        data={"username": "manager", "password": PASSWORD, "csrf_token": form_token(client), "next": target},
    )

    assert (language.status_code, language.headers["Location"]) == (302, "/")
    assert 'name="next" value="/"' in shown
    assert (logged_in.status_code, logged_in.headers["Location"]) == (302, "/")


def test_next_within_the_site_is_kept(site: Flask) -> None:
    client = site.test_client()
    # The language links carry the page's own address, a search with spaces or CJK text included.
    here = "/items?q=%E7%AA%97%E5%8F%A3%20%E6%8E%92%E9%98%9F&state=open"
    assert client.get("/language/zh", query_string={"next": here}).headers["Location"] == here
    logged_in = page_login(client, "manager", next="/admin?user=owner")
    assert logged_in.get("/auth/session").status_code == 200
