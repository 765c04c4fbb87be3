"""Linting over HTTP and on the command line: every problem at once, valid or not; deploy refuses listing them all."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.bpmn.bundle import from_folder
from engine.store.config import REPO_ROOT
from engine.store.models import ProcessDefinition
from tests.conftest import People
from tests.engine.bpmn.test_lint import BROKEN, BROKEN_ERRORS, BROKEN_WARNINGS, FORMS
from web.cli import main

API = "/api/v1"
PROCESSES = REPO_ROOT / "processes"


def send(client: FlaskClient, people: People, path: str, user: str = "designer", forms: bool = True) -> TestResponse:
    data: dict[str, Any] = {"file": (io.BytesIO(BROKEN), "broken.bpmn")}
    if forms:
        data["form"] = [(io.BytesIO(content), key) for key, content in FORMS.items()]
    return client.post(f"{API}{path}", data=data, content_type="multipart/form-data", headers=people.auth(user))


def pairs(problems: list[dict[str, str]], severity: str) -> set[tuple[str, str]]:
    return {(problem["element"], problem["code"]) for problem in problems if problem["severity"] == severity}


def test_validate_reports_every_problem_and_is_still_a_200(client: FlaskClient, people: People) -> None:
    for user in ("designer", "admin"):
        response = send(client, people, "/processes/validate", user)
        assert response.status_code == 200, response.json
        body = response.json or {}
        assert body["valid"] is False
        assert pairs(body["problems"], "error") == BROKEN_ERRORS
        assert pairs(body["problems"], "warning") == BROKEN_WARNINGS
        assert all(problem["line"] and problem["message"] for problem in body["problems"])


def test_a_form_sent_with_the_diagram_is_the_one_checked(client: FlaskClient, people: People) -> None:
    without = send(client, people, "/processes/validate", forms=False).json or {}
    assert ("ask", "form-missing") in pairs(without["problems"], "error")


def test_the_shipped_diagram_is_valid(client: FlaskClient, people: People) -> None:
    shipped = from_folder(PROCESSES / "rectification_item.bpmn", PROCESSES / "forms")
    response = client.post(
        f"{API}/processes/validate",
        data={
            "file": (io.BytesIO(shipped.diagram), "rectification_item.bpmn"),
            "form": [(io.BytesIO(content), key) for key, content in shipped.forms.items()],
            "decision": [(io.BytesIO(content), name) for name, content in shipped.decisions.items()],
        },
        content_type="multipart/form-data",
        headers=people.auth("designer"),
    )
    assert (response.status_code, response.json) == (200, {"valid": True, "problems": []})


@pytest.mark.parametrize("user", ["owner", "approver", "reporter", "auditor"])
def test_only_designers_and_admins_validate(client: FlaskClient, people: People, user: str) -> None:
    response = send(client, people, "/processes/validate", user)
    assert (response.status_code, response.mimetype) == (403, "application/problem+json")


def test_a_refused_deployment_lists_every_error_and_stores_nothing(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    def count() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(ProcessDefinition)) or 0

    before = count()
    response = send(client, people, "/processes", forms=False)
    assert (response.status_code, response.mimetype) == (422, "application/problem+json")
    body = response.json or {}
    # Sent without its forms: ask.json is missing, so no choice is known to cover.
    assert pairs(body["errors"], "error") == BROKEN_ERRORS - {("decide", "gateway-uncovered")} | {
        ("ask", "form-missing")
    }
    assert "- orphan: " in body["detail"]
    assert count() == before


def test_the_lint_command_prints_each_problem_and_exits_1_on_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.bpmn").write_bytes(BROKEN)
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "ask.json").write_bytes(FORMS["ask.json"])
    runner = CliRunner()
    result = runner.invoke(main, ["lint", str(tmp_path / "broken.bpmn")])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    printed = {(line.split()[1], line.split()[2]) for line in lines}
    assert printed == BROKEN_ERRORS | BROKEN_WARNINGS
    assert all(line.startswith(f"{tmp_path / 'broken.bpmn'}:") for line in lines)
    assert "6 error(s), 2 warning(s)" in result.stderr


def test_the_lint_command_exits_0_on_clean_diagrams_and_warnings_alone(tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(main, ["lint", str(PROCESSES)])
    assert (clean.exit_code, clean.stdout) == (0, "")
    # A form given on the command line stands in for the forms folder's: a user task without a status only warns.
    warned = tmp_path / "warned.bpmn"
    warned.write_bytes(
        (PROCESSES / "rectification_item.bpmn")
        .read_bytes()
        .replace(b'<camunda:property name="status" value="review" />', b"", 1)  # review's, not joint_review's
        .replace(
            b'<camunda:property name="status_label" value="\xe5\xae\xa1\xe6\xa0\xb8\xe4\xb8\xad In review" />', b"", 1
        )
    )
    # Its decision table lies beside it, as the shipped one does.
    shipped = from_folder(PROCESSES / "rectification_item.bpmn", PROCESSES / "forms")
    forms = [str(tmp_path / name) for name in shipped.forms]
    for name, content in {**shipped.forms, **shipped.decisions}.items():
        (tmp_path / name).write_bytes(content)
    result = runner.invoke(main, ["lint", str(warned), *forms])
    assert result.exit_code == 0, result.output
    assert [line.split()[1:3] for line in result.stdout.splitlines()] == [["review", "status-missing"]]
