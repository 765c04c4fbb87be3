"""engine.items.forms.validate without HTTP: which fields a refusal names, for the bundled forms and others."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.identity.identity import add_user, user_by_username
from engine.items import forms, workflow
from engine.store.config import REPO_ROOT
from engine.store.errors import InvalidInput
from engine.store.models import Item
from tests.conftest import People


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    """A session over the cast, rolled back after the test."""
    with sessions() as session:
        yield session
        session.rollback()


@pytest.fixture
def item(session: Session) -> Item:
    """An office item, raised the way the API raises one."""
    reporter = user_by_username(session, "reporter")
    return workflow.create_item(
        session, reporter, workflow.NewItem(title="窗口服务排队时间长", department="office"), "Asia/Shanghai"
    )


def form(session: Session, task: str) -> dict[str, Any]:
    """The form of a task of the deployed default diagram, as the engine reads it."""
    schema: dict[str, Any] = deploy.latest(session, "rectification_item").model["tasks"][task]["form"]
    return schema


def refusal(session: Session, item: Item, schema: dict[str, Any] | None, data: Any) -> list[dict[str, str]]:
    """The errors ``validate`` raises, in order; an empty list when it accepts the data."""
    try:
        forms.validate(session, item, schema, data)
    except InvalidInput as exc:
        assert exc.errors, "InvalidInput without errors"
        assert all(set(error) == {"field", "message"} and error["message"] for error in exc.errors)
        return exc.errors
    return []


def fields(session: Session, item: Item, schema: dict[str, Any] | None, data: Any) -> list[str]:
    return [error["field"] for error in refusal(session, item, schema, data)]


# --- the bundled forms ------------------------------------------------------------------------------------------------

VALID = [
    ("define_measures", {"measures": "增设自助取号机"}),
    ("assign_owner", {"owner": "owner"}),
    ("assign_owner", {"owner": "owner_approver"}),
    ("assign_owner", {"owner": "manager"}),
    ("rectify", {"result": "已整改"}),
    ("rectify", {"result": "已整改", "evidence": "photo.jpg"}),
    ("review", {"decision": "approve"}),
    ("review", {"decision": "approve", "comment": "好"}),
    ("review", {"decision": "reject", "comment": "缺少照片"}),
]


@pytest.mark.parametrize(("task", "data"), VALID)
def test_the_bundled_forms_accept_valid_data(session: Session, item: Item, task: str, data: dict[str, Any]) -> None:
    assert fields(session, item, form(session, task), data) == []


INVALID = [
    ("define_measures", {}, ["data.measures"]),
    ("define_measures", {"measures": ""}, ["data.measures"]),
    ("define_measures", {"measures": "x" * 5001}, ["data.measures"]),
    ("define_measures", {"measures": None}, ["data.measures"]),
    ("define_measures", {"measures": "m", "owner": "owner"}, ["data.owner"]),
    ("define_measures", {"colour": "red", "size": 3}, ["data.measures", "data.colour", "data.size"]),
    ("define_measures", ["measures"], ["data"]),
    ("define_measures", "measures", ["data"]),
    ("assign_owner", {}, ["data.owner"]),
    ("assign_owner", {"owner": "nobody"}, ["data.owner"]),
    ("assign_owner", {"owner": "outsider"}, ["data.owner"]),
    ("assign_owner", {"owner": "works_manager"}, ["data.owner"]),
    ("assign_owner", {"owner": "approver"}, ["data.owner"]),  # no department at all
    ("assign_owner", {"owner": 7}, ["data.owner"]),
    ("rectify", {"evidence": "photo.jpg"}, ["data.result"]),
    ("rectify", {"result": "ok", "evidence": 1}, ["data.evidence"]),
    ("review", {}, ["data.decision"]),
    ("review", {"decision": "maybe"}, ["data.decision"]),
    ("review", {"decision": "APPROVE"}, ["data.decision"]),
    ("review", {"decision": "reject"}, ["data.comment"]),
    ("review", {"decision": "reject", "comment": ""}, ["data.comment"]),
    ("review", {"decision": "reject", "comment": 5}, ["data.comment"]),
    ("review", {"decision": "approve", "verdict": "ok"}, ["data.verdict"]),
]


@pytest.mark.parametrize(("task", "data", "expected"), INVALID)
def test_the_bundled_forms_name_each_field_at_fault(
    session: Session, item: Item, task: str, data: Any, expected: list[str]
) -> None:
    assert sorted(fields(session, item, form(session, task), data)) == sorted(expected)


WORDED = [
    ("rectify", {}, "“整改结果”为必填项 Result is required"),
    ("rectify", {"result": ""}, "“整改结果”为必填项 Result is required"),
    ("rectify", {"result": "长" * 5001}, "“整改结果”不能超过 5000 个字 Result: at most 5000 characters"),
    ("review", {"decision": "maybe"}, "请从“审核结论”的选项中选择 Please choose one of the options of Decision"),
    (
        "review",
        {"decision": "reject"},
        "审核结论为“退回”时，“审核意见”为必填项 Comment is required when Decision is Reject",
    ),
    ("review", {"decision": "approve", "comment": 5}, "“审核意见”的内容类型不对 Comment has the wrong kind of value"),
]


@pytest.mark.parametrize(("task", "data", "message"), WORDED)
def test_a_refusal_names_the_field_by_its_title_and_says_what_is_wrong_in_both_languages(
    session: Session, item: Item, task: str, data: Any, message: str
) -> None:
    (error,) = refusal(session, item, form(session, task), data)
    assert error["message"] == message


def test_a_rule_under_a_condition_says_the_condition(session: Session, item: Item) -> None:
    schema = {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "审核结论 Decision",
                "enum": ["approve", "reject"],
                "x-enum-labels": {"approve": "通过 Approve", "reject": "退回 Reject"},
            },
            "units": {"type": "array", "title": "退回重办的单位 Units to redo", "items": {"type": "string"}},
            "size": {"type": "integer", "title": "数量 Count", "minimum": 1},
        },
        "if": {"properties": {"decision": {"const": "approve"}}, "required": ["decision"]},
        "then": {"properties": {"units": {"maxItems": 0}}},
    }
    errors = refusal(session, item, schema, {"decision": "approve", "units": ["works"], "size": "两"})
    assert {error["field"]: error["message"] for error in errors} == {
        "data.units": "审核结论为“通过”时，“退回重办的单位”应为空 Units to redo must be empty when Decision is Approve",
        "data.size": "“数量”应为数字 Count must be a number",
    }


def test_a_department_member_message_names_the_unit_and_the_user(session: Session, item: Item) -> None:
    (error,) = refusal(session, item, form(session, "assign_owner"), {"owner": "outsider"})
    assert error["field"] == "data.owner"
    assert "办公室" in error["message"] and "outsider" in error["message"]
    (error,) = refusal(session, item, form(session, "assign_owner"), {"owner": "nobody"})
    assert "nobody" in error["message"]


def test_a_deactivated_user_is_no_longer_a_member(session: Session, item: Item) -> None:
    assert fields(session, item, form(session, "assign_owner"), {"owner": "owner"}) == []
    user_by_username(session, "owner").active = False
    session.flush()
    assert fields(session, item, form(session, "assign_owner"), {"owner": "owner"}) == ["data.owner"]


def test_membership_follows_the_items_unit(session: Session) -> None:
    reporter = user_by_username(session, "reporter")
    works = workflow.create_item(
        session, reporter, workflow.NewItem(title="工务问题", department="works"), "Asia/Shanghai"
    )
    assert fields(session, works, form(session, "assign_owner"), {"owner": "outsider"}) == []
    assert fields(session, works, form(session, "assign_owner"), {"owner": "owner"}) == ["data.owner"]


# --- schemas written by designers -------------------------------------------------------------------------------------


def test_several_missing_fields_are_each_named_once(session: Session, item: Item) -> None:
    schema = {"type": "object", "required": ["a", "b", "c"], "properties": {"a": {}, "b": {}, "c": {}}}
    errors = refusal(session, item, schema, {"b": 1})
    assert [e["field"] for e in errors] == ["data.a", "data.c"]
    assert fields(session, item, schema, {}) == ["data.a", "data.b", "data.c"]


def test_nested_fields_are_named_by_their_path(session: Session, item: Item) -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {
                "type": "object",
                "properties": {"phone": {"type": "string", "pattern": "^[0-9]+$"}},
                "required": ["phone", "name"],
                "additionalProperties": False,
            },
            "photos": {"type": "array", "items": {"type": "string", "maxLength": 5}},
        },
    }
    data = {"contact": {"phone": "12a", "fax": "1"}, "photos": ["a.jpg", "much-too-long.jpg"]}
    assert sorted(fields(session, item, schema, data)) == [
        "data.contact.fax",
        "data.contact.name",
        "data.contact.phone",
        "data.photos.1",
    ]


def test_pattern_properties_are_not_reported_as_unknown(session: Session, item: Item) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    assert fields(session, item, schema, {"title": "t", "x-note": "n", "other": 1, "y-note": "n"}) == [
        "data.other",
        "data.y-note",
    ]


def test_a_username_field_needs_an_active_user_of_any_unit(session: Session, item: Item) -> None:
    schema = {"type": "object", "properties": {"reviewer": {"type": "string", "format": "username"}}}
    assert fields(session, item, schema, {"reviewer": "outsider"}) == []
    assert fields(session, item, schema, {"reviewer": "approver"}) == []
    (error,) = refusal(session, item, schema, {"reviewer": "ghost"})
    assert error["field"] == "data.reviewer" and "ghost" in error["message"]
    add_user(session, "retired", "works", ["member"]).active = False
    session.flush()
    assert fields(session, item, schema, {"reviewer": "retired"}) == ["data.reviewer"]


def test_a_task_without_a_form_accepts_no_fields(session: Session, item: Item) -> None:
    assert fields(session, item, None, {}) == []
    assert fields(session, item, None, {"anything": 1, "else": 2}) == ["data.anything", "data.else"]
    assert fields(session, item, None, []) == ["data"]


def test_text_no_database_can_store_is_named(session: Session, item: Item) -> None:
    schema = {"type": "object", "properties": {"notes": {"type": "array"}, "title": {"type": "string"}}}
    assert fields(session, item, schema, {"title": "a\x00b"}) == ["data.title"]
    assert fields(session, item, schema, {"title": "a\ud800"}) == ["data.title"]
    assert fields(session, item, schema, {"notes": ["fine", {"deep": "x\x00"}]}) == ["data.notes.1.deep"]
    assert fields(session, item, schema, {"title": "整改 ✓ emoji 😀"}) == []
    assert fields(session, item, form(session, "define_measures"), {"measures": "\x00"}) == ["data.measures"]


def test_validation_never_writes(session: Session, item: Item) -> None:
    before = (item.version, item.status, item.owner_id)
    refusal(session, item, form(session, "assign_owner"), {"owner": "owner"})
    refusal(session, item, form(session, "assign_owner"), {"owner": "outsider"})
    session.flush()
    assert (item.version, item.status, item.owner_id) == before


# --- the engine stays free of Flask -----------------------------------------------------------------------------------


def test_the_engine_imports_no_web_framework() -> None:
    modules = sorted(p.stem for p in (REPO_ROOT / "engine").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('engine.' + name)\n"
        "importlib.import_module('engine.bpmn.deploy')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'werkzeug', 'web', 'flask_smorest'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
