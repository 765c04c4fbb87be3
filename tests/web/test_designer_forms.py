"""The designer's form editor, server side: the live preview drawn by the task page's renderer, and the
modeler's validate/deploy taking the edited forms beside the diagram."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import PROCESSES, People
from tests.web.test_sessions import PASSWORD, page_login, session_token
from web import create_app, db
from web.problems import PROBLEM_JSON

REVIEW = json.loads((PROCESSES / "forms" / "review.json").read_text(encoding="utf-8"))
DIAGRAM = (PROCESSES / "rectification_item.bpmn").read_bytes()


@pytest.fixture
def site(database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Flask]:
    """The app over plain HTTP; a designer of the office unit besides the cast, all with passwords."""
    with transaction(sessions) as session:
        identity.add_user(session, "office_designer", "office", ["designer"], display_name="办公室设计员")
        for name in ("designer", "office_designer", "approver", "auditor"):
            identity.set_password(session, identity.user_by_username(session, name), PASSWORD)
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "COOKIE_SECURE": False})
    yield app
    db.dispose(app)


def preview(client: FlaskClient, schema: Any, key: str = "review.json") -> Any:
    body = schema if isinstance(schema, bytes) else json.dumps(schema).encode()
    headers = {"X-CSRFToken": session_token(client), "Content-Type": "application/json"}
    return client.post(f"/designer/forms/preview?key={key}", data=body, headers=headers)


def test_the_preview_draws_the_form_as_the_task_page_does(site: Flask) -> None:
    client = page_login(site.test_client(), "designer")

    response = preview(client, REVIEW)

    assert (response.status_code, response.mimetype) == (200, "text/html")
    html = response.get_data(as_text=True)
    assert "<h2>审核验收</h2>" in html
    assert 'type="radio" name="decision" value="reject"' in html and "退回" in html
    assert '<textarea id="f-comment" name="comment"' in html  # maxLength 5000: a text area
    assert html.count('class="req"') == 1  # decision only; the comment is required on reject alone


def test_people_and_units_are_those_of_the_designers_own_unit(site: Flask) -> None:
    schema = {
        "type": "object",
        "properties": {
            "owner": {"type": "string", "title": "责任人 Owner", "format": "department-member"},
            "unit": {"type": "string", "title": "单位 Unit", "format": "item-unit"},
            "due": {"type": "string", "title": "日期 Date", "format": "date"},
        },
    }
    html = preview(page_login(site.test_client(), "office_designer"), schema).get_data(as_text=True)
    assert 'value="owner"' in html and 'value="manager"' in html  # the office's people...
    assert 'value="outsider"' not in html  # ...not the works unit's
    assert 'value="office"' in html and "办公室" in html
    assert 'type="date"' in html

    unplaced = preview(page_login(site.test_client(), "designer"), schema).get_data(as_text=True)
    assert 'value="manager"' not in unplaced  # a designer of no unit sees no one to choose


@pytest.mark.parametrize(
    ("key", "body", "code"),
    [
        ("review.json", {"type": "object", "properties": {"a": {"type": "text"}}}, "form-invalid"),
        ("review.json", b"{not json", "form-invalid"),
        ("review.json", [1, 2], "form-invalid"),
        ("../review.json", REVIEW, "form-key"),
    ],
)
def test_an_invalid_form_is_refused_naming_what_is_wrong(site: Flask, key: str, body: Any, code: str) -> None:
    response = preview(page_login(site.test_client(), "designer"), body, key)

    assert (response.status_code, response.mimetype) == (422, PROBLEM_JSON)
    assert response.json is not None
    [error] = response.json["errors"]
    assert (error["form"], error["code"]) == (key, code)
    assert key in response.json["detail"]


@pytest.mark.parametrize("username", ["approver", "auditor"])
def test_only_designers_preview_forms(site: Flask, username: str) -> None:
    assert preview(page_login(site.test_client(), username), REVIEW).status_code == 403


def modeler_post(client: FlaskClient, url: str, forms: dict[str, bytes]) -> Any:
    data = {"file": (io.BytesIO(DIAGRAM), "diagram.bpmn"), "form": [(io.BytesIO(b), key) for key, b in forms.items()]}
    return client.post(url, data=data, headers={"X-CSRFToken": session_token(client)})


def test_the_modeler_deploys_its_edited_forms_and_the_latest_version_s_others(site: Flask) -> None:
    client = page_login(site.test_client(), "designer")
    edited = {**REVIEW, "title": "复核 Second look"}

    response = modeler_post(client, "/designer/deploy", {"review.json": json.dumps(edited).encode()})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None and response.json["location"] == "/designer/rectification_item/2"
    bundle = zipfile.ZipFile(io.BytesIO(client.get("/designer/rectification_item/2.zip").data))
    assert json.loads(bundle.read("forms/review.json"))["title"] == "复核 Second look"
    shipped = (PROCESSES / "forms" / "rectify.json").read_bytes()
    assert bundle.read("forms/rectify.json") == shipped  # not edited: as the latest version has it


def test_validate_names_an_edited_form_the_lint_refuses(site: Flask) -> None:
    client = page_login(site.test_client(), "designer")

    result = modeler_post(client, "/designer/validate", {"review.json": b'{"type": "objekt"}'}).json

    assert result is not None and result["valid"] is False
    assert [(e["form"], e["code"]) for e in result["errors"]] == [("review.json", "form-invalid")]
