"""The decision tables pages' endpoints, server side: the draft tried as sent, refusals as problem+json naming
the field or the DMN element (never a 500), a deploy's new version and its log line, a new table's key checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import decisions
from engine.identity import identity
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from engine.store.models import AdminLogEntry
from tests.conftest import People
from tests.web.test_sessions import PASSWORD, page_login, session_token
from web import create_app, db
from web.problems import PROBLEM_JSON

EXAMPLE = (REPO_ROOT / "processes" / "examples" / "decision_table.dmn").read_text(encoding="utf-8")


@pytest.fixture
def client(database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[FlaskClient]:
    """A designer's browser session on the app, the example's decisions deployed (version 1)."""
    with transaction(sessions) as session:
        identity.set_password(session, identity.user_by_username(session, "designer"), PASSWORD)
        decisions.deploy(session, EXAMPLE.encode(), "designer")
    app: Flask = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "COOKIE_SECURE": False})
    yield page_login(app.test_client(), "designer")
    db.dispose(app)


def post(client: FlaskClient, path: str, body: bytes | str, kind: str = "application/json") -> Any:
    return client.post(path, data=body, headers={"X-CSRFToken": session_token(client), "Content-Type": kind})


def evaluate(client: FlaskClient, body: Any) -> Any:
    return post(client, "/designer/decisions/example_deadline/evaluate", json.dumps(body))


def test_the_draft_sent_is_evaluated_not_the_deployed_version(client: FlaskClient) -> None:
    inputs = {"category": "safety", "severity": "high"}
    deployed = evaluate(client, {"inputs": inputs})
    assert (deployed.status_code, deployed.json["outputs"], deployed.json["version"]) == (
        200,
        {"days": 7, "second_approver": True},
        1,
    )

    draft = EXAMPLE.replace("<text>7</text>", "<text>5</text>")
    tried = evaluate(client, {"inputs": inputs, "dmn": draft})
    assert tried.status_code == 200
    assert tried.json == {
        "key": "example_deadline",
        "version": None,
        "hit_policy": "UNIQUE",
        "matched_rules": ["safety_high"],
        "outputs": {"days": 5, "second_approver": True},
        "problem": None,
    }
    none = evaluate(client, {"inputs": {"category": "safety", "severity": "unknown"}, "dmn": draft})
    assert (none.json["outputs"], none.json["matched_rules"]) == (None, [])
    assert "No rule of decision 'example_deadline' matches" in none.json["problem"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("not json", ("field", "body")),
        ([1, 2], ("field", "body")),
        ({"inputs": "safety"}, ("field", "inputs")),
        ({"inputs": {}, "dmn": "<definitions"}, ("code", "dmn-invalid")),
        (
            {"inputs": {}, "dmn": EXAMPLE.replace('hitPolicy="UNIQUE"', 'hitPolicy="ANY"')},
            ("element", "example_deadline"),
        ),
        ({"inputs": {}, "dmn": EXAMPLE.replace('id="example_deadline"', 'id="renamed"')}, ("field", "dmn")),
    ],
)
def test_a_bad_trial_is_refused_naming_its_field_or_element(
    client: FlaskClient, body: Any, names: tuple[str, str]
) -> None:
    response = post(
        client, "/designer/decisions/example_deadline/evaluate", json.dumps(body) if body != "not json" else body
    )
    assert (response.status_code, response.mimetype) == (422, PROBLEM_JSON)
    kind, name = names
    assert name in [error.get(kind) for error in response.json["errors"]]


def test_an_expression_that_fails_on_the_values_names_its_rule(client: FlaskClient) -> None:
    draft = EXAMPLE.replace("<text>7</text>", "<text>severity + 1</text>")
    response = evaluate(client, {"inputs": {"category": "safety", "severity": "high"}, "dmn": draft})
    assert (response.status_code, response.json["errors"][0]["field"]) == (422, "inputs")
    assert "'safety_high'" in response.json["detail"] and "TypeError" in response.json["detail"]


def test_a_deploy_makes_a_new_version_and_logs_it_and_a_refusal_names_the_element(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    refused = post(
        client,
        "/designer/decisions/deploy?key=example_deadline",
        EXAMPLE.replace("<text>7</text>", "<text>7 +</text>"),
        "application/xml",
    )
    assert (refused.status_code, refused.mimetype) == (422, PROBLEM_JSON)
    assert [error["element"] for error in refused.json["errors"]] == ["safety_high"]

    deployed = post(
        client,
        "/designer/decisions/deploy?key=notify_rule",
        EXAMPLE.replace("<text>7</text>", "<text>5</text>"),
        "application/xml",
    )
    assert deployed.status_code == 200
    assert deployed.json["location"] == "/designer/decisions/notify_rule?version=2"
    again = post(
        client, "/designer/decisions/deploy", EXAMPLE.replace("<text>7</text>", "<text>5</text>"), "application/xml"
    )
    assert (again.json["key"], again.json["version"]) == ("example_deadline", 2)  # the file's first; nothing new
    assert "相同" in again.json["message"]
    with transaction(sessions) as session:
        assert [d.version for d in decisions.versions_of(session, "example_deadline")] == [1, 2]
        logged = session.scalars(select(AdminLogEntry.target).where(AdminLogEntry.action == "decision.deploy"))
        assert sorted(logged) == ["example_deadline v2", "example_deadline v2", "notify_rule v2", "notify_rule v2"]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("", "此项为必填项"),
        ("9lives", "决策标识须以字母或下划线开头"),
        ("x" * 300, "至多"),
        ("example_deadline", "已存在"),
    ],
)
def test_a_new_table_needs_a_usable_free_key(client: FlaskClient, key: str, said: str) -> None:
    page = client.get("/designer/decisions", query_string={"key": key, "name": "新表"})
    assert page.status_code == 200
    assert said in page.get_data(as_text=True)


def test_a_new_table_opens_on_the_template_with_its_key_and_name(client: FlaskClient) -> None:
    asked = client.get("/designer/decisions", query_string={"key": "fines", "name": '罚款 <Fines> & "more"'})
    assert asked.status_code == 302
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert 'data-key="fines"' in page
    # The name is escaped twice (XML, then the HTML attribute): the browser reads the XML back intact.
    assert "name=&#34;罚款 &amp;lt;Fines&amp;gt; &amp;amp; &amp;#34;more&amp;#34;&#34;" in page
