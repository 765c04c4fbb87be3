"""Security headers on every answer of the real server, and a docs page without inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import People
from web import create_app, db

API = "/api/v1"
EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def assert_secured(response: requests.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, name)
    directives = response.headers["Content-Security-Policy"].split("; ")
    policy = {name: value for name, _, value in (directive.partition(" ") for directive in directives)}
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["default-src"] == "'self'"


def test_every_kind_of_answer_carries_the_headers(live_server: str, people: People) -> None:
    reporter = people.auth("reporter")
    answers = {
        200: requests.get(f"{live_server}{API}/health", timeout=30),
        401: requests.get(f"{live_server}{API}/items", timeout=30),
        403: requests.post(f"{live_server}{API}/items", json={}, headers=people.auth("auditor"), timeout=30),
        404: requests.get(f"{live_server}{API}/no-such-thing", timeout=30),
        422: requests.post(f"{live_server}{API}/items", json={"title": 5}, headers=reporter, timeout=30),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert_secured(response)


@pytest.mark.usefixtures("people")
def test_the_docs_page_has_no_inline_script_and_its_scripts_are_served(live_server: str) -> None:
    page = requests.get(f"{live_server}{API}/docs", timeout=30)
    assert page.status_code == 200
    assert_secured(page)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, flags=re.S)
    assert scripts, "the page loads Swagger UI"
    assert all(body.strip() == "" and 'src="' in attributes for attributes, body in scripts), scripts
    assert not re.search(r"\son[a-z]+=", page.text), "no inline event handlers either"
    for src in re.findall(r'<script[^>]*src="([^"]+)"', page.text):
        script = requests.get(f"{live_server}{src}", timeout=30)
        assert script.status_code == 200, src
        assert "javascript" in script.headers["Content-Type"], src
        assert_secured(script)
    initialiser = requests.get(f"{live_server}{API}/docs/rectiflow-docs.js", timeout=30).text
    assert "SwaggerUIBundle(" in initialiser and "/openapi.json" in page.text


def test_cookies_are_secure_unless_switched_off_for_plain_http(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting, secure in ((None, True), ("false", False)):
        if setting is not None:
            monkeypatch.setenv("RECTIFLOW_COOKIE_SECURE", setting)
        app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path})
        try:
            assert app.config["SESSION_COOKIE_SECURE"] is secure
            assert app.config["SESSION_COOKIE_HTTPONLY"] is True
            assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        finally:
            db.dispose(app)
