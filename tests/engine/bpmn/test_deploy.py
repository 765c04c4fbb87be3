"""engine.bpmn.deploy without the web layer: versions in the database, and diagrams that used to crash or hang."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, digest, from_folder, read_form
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from engine.store.errors import InvalidDiagram

PROCESSES = REPO_ROOT / "processes"
FORMS = PROCESSES / "forms"
BUNDLED = (PROCESSES / "rectification_item.bpmn").read_bytes()
# The forms and the decision table the default lifecycle names, as ``rectiflow init`` reads them.
SHIPPED = from_folder(PROCESSES / "rectification_item.bpmn", FORMS)
RECTIFY_FORMS, DECISIONS = dict(SHIPPED.forms), dict(SHIPPED.decisions)
KEY = "rectification_item"
THEN_Y = '<bpmn:sequenceFlow id="xy" sourceRef="x" targetRef="y"/><bpmn:task id="y"/>'
MESSAGE = '<bpmn:message id="m" name="m"/>'


def diagram(body: str, *, root: str = "") -> bytes:
    """A one-process diagram: start → body → end, where body's first element has id ``x`` and its last ``y``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn">{root}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="in" sourceRef="start" targetRef="x"/>
    {body}
    <bpmn:sequenceFlow id="out" sourceRef="y" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def refused(content: bytes, forms: dict[str, bytes] | None = None) -> InvalidDiagram:
    with pytest.raises(InvalidDiagram) as caught:
        deploy.build(Bundle(content, forms or {}))
    return caught.value


def test_the_engine_imports_no_flask() -> None:
    code = "import sys, engine.bpmn.deploy, engine.items.workflow; print('flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_versions_are_per_key_and_identical_bytes_are_not_stored_twice(sessions: sessionmaker[Session]) -> None:
    changed = BUNDLED.replace("整改落实 Rectify".encode(), "整改落实 Rectify it".encode())
    with transaction(sessions) as session:
        first, created = deploy.deploy(session, Bundle(BUNDLED, RECTIFY_FORMS, DECISIONS), actor="designer")
        assert (first.version, created) == (1, False)  # the bundled diagram, deployed by the fixture
        second, created = deploy.deploy(session, Bundle(changed, RECTIFY_FORMS, DECISIONS), actor="designer")
        assert (second.key, second.version, created) == (KEY, 2, True)
        assert second.sha256 == digest(
            changed, {key: read_form(key, form) for key, form in RECTIFY_FORMS.items()}, DECISIONS
        )
        assert second.deployed_by == "designer"
        again, created = deploy.deploy(session, Bundle(changed, RECTIFY_FORMS, DECISIONS), actor="someone else")
        assert (again.id, created) == (second.id, False)
    with transaction(sessions) as session:
        assert deploy.latest(session, KEY).version == 2
        assert deploy.get(session, KEY, 1).bpmn_xml.encode() == BUNDLED
        assert [(d.key, d.version) for d in deploy.all_definitions(session)] == [
            ("joint_stage", 1),
            ("joint_task", 1),
            (KEY, 1),
            (KEY, 2),
        ]


def test_the_xml_declaration_cannot_turn_utf8_text_into_mojibake() -> None:
    """The bytes were checked to be UTF-8, so they are read as UTF-8 whatever encoding the file declares."""
    latin = BUNDLED.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    built = deploy.build(Bundle(latin, RECTIFY_FORMS, DECISIONS))
    assert built.model["tasks"]["rectify"]["title"] == "整改落实 Rectify"
    assert built.name == "整改事项 Rectification item"


def chain(ids: list[str]) -> str:
    """Tasks ``ids[0]`` → ``ids[1]`` → ... joined by sequence flows."""
    tasks = "".join(f'<bpmn:task id="{task}"/>' for task in ids)
    flows = "".join(f'<bpmn:sequenceFlow id="f_{a}" sourceRef="{a}" targetRef="{b}"/>' for a, b in pairwise(ids))
    return tasks + flows


def test_a_very_long_chain_of_tasks_is_refused_with_a_reason_not_a_recursion_error() -> None:
    assert deploy.build(Bundle(diagram(chain(["x", *(f"t{n}" for n in range(200)), "y"])))).key == "p"
    error = refused(diagram(chain(["x", *(f"t{n}" for n in range(1000)), "y"])))
    assert "too long a chain of elements" in error.detail
    assert error.errors[0]["element"].startswith("t")


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("-" * 100_000 + "1", "at most 10000"),  # MemoryError in the Python parser, were it tried
        ("-" * 9_000 + "1", "too complex to parse"),  # MemoryError
        ("-" * 3_000 + "1", "too complex to parse"),  # RecursionError
    ],
    ids=["too long", "memory error", "recursion error"],
)
def test_an_expression_the_python_parser_cannot_handle_is_refused(condition: str, words: str) -> None:
    gateway = (
        '<bpmn:exclusiveGateway id="x"/><bpmn:sequenceFlow id="to_y" sourceRef="x" targetRef="y">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:task id='y'/>"
    )
    error = refused(diagram(gateway))
    assert error.errors[0]["element"] == "to_y"
    assert words in error.detail


@pytest.mark.parametrize("key", ["a" * 300 + ".json", "forms/x.json", "x.txt", "../x.json", ".json"])
def test_a_form_key_that_is_no_plain_json_file_name_is_refused_naming_the_task(key: str) -> None:
    error = refused(user_task_with_form(key))
    assert [(e["element"], e["code"], e["message"]) for e in error.errors] == [("x", "form-key", error.detail)]
    assert "must be a file name in forms/ ending in .json" in error.detail


@pytest.mark.parametrize(
    ("element", "words"),
    [
        ('<bpmn:serviceTask id="x"/>', "Only external service tasks are supported"),
        ('<bpmn:sendTask id="x" messageRef="m"/>', "Send tasks are not supported: a diagram does not send messages"),
    ],
)
def test_elements_the_serializer_cannot_store_are_named(element: str, words: str) -> None:
    error = refused(diagram(element + THEN_Y, root=MESSAGE))
    assert words in error.detail
    assert error.errors[0]["element"] == "x"


def event(definition: str) -> str:
    return f'<bpmn:intermediateThrowEvent id="x">{definition}</bpmn:intermediateThrowEvent>'


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('<bpmn:businessRuleTask id="x"/>', "no camunda:decisionRef"),
        ('<bpmn:complexGateway id="x"/>', "Complex gateways"),
        (event('<bpmn:signalEventDefinition signalRef="nope"/>'), "signal 'nope'"),
        (event('<bpmn:escalationEventDefinition escalationRef="nope"/>'), "escalation 'nope'"),
        (event('<bpmn:messageEventDefinition messageRef="nope"/>'), "message 'nope'"),
        (
            '<bpmn:task id="x"><bpmn:dataInputAssociation id="d"><bpmn:sourceRef>nothing</bpmn:sourceRef>'
            "</bpmn:dataInputAssociation></bpmn:task>",
            "'nothing', which is not a data object reference",
        ),
        ('<bpmn:callActivity id="x"/>', "has no calledElement"),
        (
            '<bpmn:callActivity id="x" calledElement="elsewhere" camunda:calledElementBinding="deployment"/>',
            "process 'elsewhere' is not in this file",
        ),
    ],
    ids=["business rule", "complex gateway", "signal", "escalation", "message", "data", "call", "called process"],
)
def test_unsupported_elements_and_dangling_references_are_named(body: str, words: str) -> None:
    error = refused(diagram(body + THEN_Y, root=MESSAGE))
    assert words in error.detail
    assert error.errors[0]["element"] == "x"


def user_task_with_form(form_key: str) -> bytes:
    lane = (
        '<bpmn:laneSet id="ls"><bpmn:lane id="l"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="candidates" value="owner"/></camunda:properties></bpmn:extensionElements>'
        "<bpmn:flowNodeRef>x</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
    )
    return diagram(f'{lane}<bpmn:userTask id="x" camunda:formKey="{form_key}"/>{THEN_Y}')


def test_forms_are_read_from_the_forms_folder_only(tmp_path: Path) -> None:
    """``rectiflow init``'s folder: a valid JSON Schema outside ``forms/`` is never read, however the key reaches."""
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "inside.json").write_text('{"type": "object"}', encoding="utf-8")
    (tmp_path / "outside.json").write_text('{"type": "object", "title": "secret"}', encoding="utf-8")
    (forms / "link.json").symlink_to(tmp_path / "outside.json")
    path = tmp_path / "p.bpmn"
    path.write_bytes(user_task_with_form("inside.json"))
    assert deploy.build(from_folder(path, forms)).model["tasks"]["x"]["form"] == {"type": "object"}
    for key in ("../outside.json", str(tmp_path / "outside.json"), "link.json", "sub/../../outside.json"):
        path.write_bytes(user_task_with_form(key))
        with pytest.raises(InvalidDiagram) as caught:
            deploy.build(from_folder(path, forms))
        assert caught.value.errors[0]["element"] == "x", key
        assert "secret" not in caught.value.detail


def test_a_changed_form_alone_makes_a_new_version_and_a_reformatted_one_does_not(
    sessions: sessionmaker[Session],
) -> None:
    rectify = json.loads(RECTIFY_FORMS["rectify.json"])
    with transaction(sessions) as session:
        same, created = deploy.deploy(session, Bundle(BUNDLED, RECTIFY_FORMS, DECISIONS), actor="designer")
        assert (same.version, created) == (1, False)
        laid_out = json.dumps(rectify, indent=4, sort_keys=True).encode()
        again, created = deploy.deploy(
            session, Bundle(BUNDLED, {**RECTIFY_FORMS, "rectify.json": laid_out}, DECISIONS), None
        )
        assert (again.version, created) == (1, False)
        rectify["properties"]["result"]["maxLength"] = 200
        edited = {**RECTIFY_FORMS, "rectify.json": json.dumps(rectify).encode()}
        changed, created = deploy.deploy(session, Bundle(BUNDLED, edited, DECISIONS), actor="designer")
        assert (changed.version, created) == (2, True)
        assert changed.model["tasks"]["rectify"]["form"]["properties"]["result"]["maxLength"] == 200
        assert {form.key: form.content.encode() for form in changed.forms} == edited


def with_status(element: str, status: str) -> str:
    return (
        f'<bpmn:task id="{element}"><bpmn:extensionElements><camunda:properties>'
        f'<camunda:property name="status" value="{status}"/></camunda:properties></bpmn:extensionElements></bpmn:task>'
    )


def test_statuses_come_in_the_order_the_flow_reaches_them_not_as_written() -> None:
    """Status tabs follow the model's order: an item's lifecycle, whatever order the file lists elements in."""
    written_backwards = with_status("y", "third") + with_status("z", "second") + with_status("x", "first")
    flows = (
        '<bpmn:sequenceFlow id="xz" sourceRef="x" targetRef="z"/>'
        '<bpmn:sequenceFlow id="zy" sourceRef="z" targetRef="y"/>'
    )
    model = deploy.build(Bundle(diagram(written_backwards + flows))).model
    assert [found["status"] for found in model["statuses"].values()] == ["first", "second", "third"]
