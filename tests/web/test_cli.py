"""The ``rectiflow`` command against a real database."""

from __future__ import annotations

import getpass
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.ledger import demo
from engine.store.models import AdminLogEntry
from tests.conftest import postgres_database
from web.cli import main


@pytest.fixture
def rectiflow(database_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> CliRunner:
    return CliRunner(env={"RECTIFLOW_DATABASE_URL": database_url, "RECTIFLOW_INSTANCE_PATH": str(tmp_path)})


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_init_is_idempotent(rectiflow: CliRunner) -> None:
    first = invoke(rectiflow, "init")
    second = invoke(rectiflow, "init")
    assert first.exit_code == second.exit_code == 0
    assert second.output == "joint_stage v1: unchanged\njoint_task v1: unchanged\nrectification_item v1: unchanged\n"


def test_people_and_a_token_that_works_over_http(rectiflow: CliRunner, client: FlaskClient) -> None:
    assert invoke(rectiflow, "department", "add", "office", "办公室").exit_code == 0
    added = invoke(rectiflow, "user", "add", "li", "--department", "office", "--role", "reporter", "--role", "member")
    assert added.exit_code == 0
    created = invoke(rectiflow, "token", "create", "li")
    assert created.exit_code == 0
    token = created.output.strip().splitlines()[-1]

    response = client.post(
        "/api/v1/items",
        json={"title": "CLI 用户登记的问题", "department": "office"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201


def test_mistakes_are_reported_without_a_traceback(rectiflow: CliRunner) -> None:
    invoke(rectiflow, "department", "add", "office", "办公室")
    duplicate = invoke(rectiflow, "department", "add", "office", "办公室")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    unknown = invoke(rectiflow, "user", "add", "wang", "--department", "nowhere", "--role", "member")
    assert unknown.exit_code == 1
    assert "Unknown department 'nowhere'" in unknown.output
    bad_role = invoke(rectiflow, "user", "add", "wang", "--role", "boss")
    assert bad_role.exit_code == 2
    assert invoke(rectiflow, "token", "create", "ghost").exit_code == 1


def test_demo_loads_the_sample_ledger_at_its_stages(rectiflow: CliRunner, client: FlaskClient) -> None:
    loaded = invoke(rectiflow, "demo")
    assert loaded.exit_code == 0, loaded.output
    assert "demo data loaded: 40 items" in loaded.output
    tokens = {
        user.strip(): token
        for user, token in (
            line.split("Authorization: Bearer ") for line in loaded.output.splitlines() if "Bearer" in line
        )
    }
    # Every demo user logs in to the pages with the password the command prints.
    assert f"password {demo.DEMO_PASSWORD!r}" in loaded.output
    login = {"username": "office_manager", "password": demo.DEMO_PASSWORD}
    assert client.post("/api/v1/auth/token", json=login).status_code == 201
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    items = client.get("/api/v1/items?per_page=100", headers=auditor).json["items"]
    # The sample ledger: 未开始 → measures agreed, 正在整改 → owner at work, 已完成 → closed;
    # its 8 rows with co-units are joint tasks (3 closed, 5 with the units at work).
    assert Counter(item["status"] for item in items) == {"measures": 12, "owner": 10, "units": 5, "closed": 13}
    (joint,) = [
        item
        for item in items
        if item["title"].startswith("因私出国（境）管理台账信息更新不及时") and "批" not in item["title"]
    ]
    detail = client.get(f"/api/v1/items/{joint['id']}", headers=auditor).json
    assert [d["name"] for d in detail["co_departments"]] == ["市公安局出入境管理支队", "干部教育科"]
    assert (detail["status"], detail["progress"]) == ("closed", {"done": 3, "total": 3})
    # A severe item of the default lifecycle reported done was signed off twice: by the reviewer, then by another
    # approver (a joint task has no second sign-off).
    severe = [item for item in items if (item["status"], item["severity"]) == ("closed", "严重")]
    (single,) = [
        item
        for item in severe
        if client.get(f"/api/v1/items/{item['id']}", headers=auditor).json["process"]["key"] == "rectification_item"
    ]
    events = client.get(f"/api/v1/items/{single['id']}/history", headers=auditor).json["events"]
    signed = [(e["actor"], e["task"]) for e in events if e["task"] in ("review", "head_review")]
    assert signed == [("approver", "review"), ("office_head", "head_review")]

    again = invoke(rectiflow, "demo")
    assert "demo data already present: 40 items" in again.output


def test_export_then_import_into_an_empty_database_of_the_other_kind(
    rectiflow: CliRunner, database_url: str, tmp_path: Path
) -> None:
    assert invoke(rectiflow, "demo").exit_code == 0
    dump = tmp_path / "rectiflow.backup.gz"
    exported = invoke(rectiflow, "export", str(dump))
    assert exported.exit_code == 0, exported.output
    assert "  item                        40\n" in exported.output

    with ExitStack() as stack:
        if database_url.startswith("sqlite"):
            target = stack.enter_context(postgres_database())
        else:
            target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        other = CliRunner(env={"RECTIFLOW_DATABASE_URL": target, "RECTIFLOW_INSTANCE_PATH": str(tmp_path)})
        imported = invoke(other, "import", str(dump))
        assert imported.exit_code == 0, imported.output
        assert "  item                        40\n" in imported.output
        assert "audit verify: OK: " in imported.output
        assert invoke(other, "audit", "verify").exit_code == 0

        again = invoke(other, "import", str(dump))
        assert again.exit_code == 1
        assert "Error: 目标数据库不为空 The target database is not empty" in again.output


def test_passwords_come_from_stdin_and_work_for_login(rectiflow: CliRunner, client: FlaskClient) -> None:
    add = ("user", "add", "li", "--role", "member", "--password-stdin")
    empty = rectiflow.invoke(main, list(add), input="\n")
    assert (empty.exit_code, "no password on stdin" in empty.output) == (1, True)
    short = rectiflow.invoke(main, list(add), input="short\n")
    assert (short.exit_code, "at least 12 characters" in short.output) == (1, True)
    assert rectiflow.invoke(main, list(add), input="a good long password\n").exit_code == 0

    def login(password: str) -> int:
        response = client.post("/api/v1/auth/token", json={"username": "li", "password": password})
        return response.status_code

    assert login("a good long password") == 201
    changed = rectiflow.invoke(main, ["user", "password", "li", "--password-stdin"], input="another long password\n")
    assert changed.exit_code == 0, changed.output
    assert "1 login token(s) revoked" in changed.output
    assert (login("a good long password"), login("another long password")) == (401, 201)


def test_tokens_are_created_with_an_expiry_listed_and_revoked(rectiflow: CliRunner, client: FlaskClient) -> None:
    invoke(rectiflow, "user", "add", "li", "--role", "auditor")
    created = invoke(rectiflow, "token", "create", "li", "--name", "nightly export", "--expires-in-days", "30")
    assert created.exit_code == 0, created.output
    assert "valid until 20" in created.output
    secret = created.output.strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/items", headers=bearer).status_code == 200

    listed = invoke(rectiflow, "token", "list", "li")
    assert secret not in listed.output
    header, row = listed.output.strip().splitlines()
    assert header.split("\t") == ["id", "name", "created", "expires", "last used", "revoked"]
    token_id, name, _created, expires, last_used, revoked = row.split("\t")
    assert (name, revoked) == ("nightly export", "-")
    assert expires != "-" and last_used != "-"

    assert invoke(rectiflow, "token", "revoke", token_id).exit_code == 0
    assert client.get("/api/v1/items", headers=bearer).status_code == 401
    assert invoke(rectiflow, "token", "list", "li").output.strip().splitlines()[1].split("\t")[-1] != "-"
    assert invoke(rectiflow, "token", "revoke", "99999").exit_code == 1


def test_command_line_admin_actions_are_in_the_admin_log(rectiflow: CliRunner, sessions: sessionmaker[Session]) -> None:
    invoke(rectiflow, "department", "add", "office", "办公室")
    invoke(rectiflow, "user", "add", "li", "--department", "office", "--role", "manager")
    token_id = invoke(rectiflow, "token", "create", "li").output.split()[1]
    invoke(rectiflow, "token", "revoke", token_id)
    with sessions() as session:
        entries = session.scalars(select(AdminLogEntry).order_by(AdminLogEntry.id)).all()
    assert [(e.action, e.target) for e in entries] == [
        ("department.create", "office"),
        ("user.create", "li"),
        ("token.create", token_id),
        ("token.revoke", token_id),
    ]
    assert {e.actor for e in entries} == {f"cli:{getpass.getuser()}"}


def test_signing_out_everywhere_and_linking_a_sign_on_from_the_command_line(
    rectiflow: CliRunner, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    assert (
        rectiflow.invoke(
            main, ["user", "add", "li", "--role", "member", "--password-stdin"], input="a good long password\n"
        ).exit_code
        == 0
    )
    issued = client.post("/api/v1/auth/token", json={"username": "li", "password": "a good long password"})
    bearer = {"Authorization": f"Bearer {issued.json['token']}"}  # type: ignore[index]

    signed_out = invoke(rectiflow, "user", "sign-out", "li")
    linked = invoke(rectiflow, "user", "link-sso", "li", "u-42", "--issuer", "https://id.example/realms/gov")
    unconfigured = rectiflow.invoke(main, ["user", "link-sso", "li", "u-43"])

    assert (signed_out.exit_code, linked.exit_code) == (0, 0), signed_out.output + linked.output
    assert client.get("/api/v1/tasks", headers=bearer).status_code == 401
    assert (unconfigured.exit_code, "give --issuer" in unconfigured.output) == (2, True)
    with sessions() as session:
        entries = session.scalars(
            select(AdminLogEntry).where(AdminLogEntry.action.in_(["user.sign_out", "user.sso_link"]))
        )
        logged = [(entry.action, entry.target, entry.actor) for entry in entries]
    actor = f"cli:{getpass.getuser()}"
    assert logged == [("user.sign_out", "li", actor), ("user.sso_link", "li", actor)]
