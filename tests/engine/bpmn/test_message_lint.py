"""The lint on messages: the waiting kinds deploy, each with a named message; what the engine would not run is
refused, naming the element; every example of processes/examples lints clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn.bundle import from_folder
from engine.bpmn.lint import examine, lint
from engine.store.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "processes" / "examples"
MESSAGES = '<bpmn:message id="m" name="arrived"/><bpmn:message id="unnamed"/>'


def diagram(body: str, flows: tuple[tuple[str, str], ...]) -> bytes:
    sequence = "".join(
        f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>' for n, (a, b) in enumerate(flows)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="https://x.test">
  {MESSAGES}
  <bpmn:process id="waits" isExecutable="true">{body}{sequence}</bpmn:process>
</bpmn:definitions>""".encode()


def between(element: str) -> bytes:
    """start → ``element`` (id ``x``) → end."""
    return diagram(f'<bpmn:startEvent id="start"/>{element}<bpmn:endEvent id="end"/>', (("start", "x"), ("x", "end")))


def event(kind: str, ref: str | None = "m") -> str:
    """An event ``x`` of this kind with a message definition referencing ``ref``."""
    attribute = f' messageRef="{ref}"' if ref else ""
    return f'<bpmn:{kind} id="x"><bpmn:messageEventDefinition{attribute}/></bpmn:{kind}>'


def errors(content: bytes) -> list[tuple[str, str]]:
    return [(p.element, p.code) for p in lint(content, {}) if p.severity == "error"]


@pytest.mark.parametrize(
    "element",
    [
        event("intermediateCatchEvent"),
        '<bpmn:receiveTask id="x" messageRef="m"/>',
    ],
)
def test_waiting_for_a_named_message_deploys(element: str) -> None:
    assert errors(between(element)) == []


def test_a_message_start_and_an_interrupting_boundary_deploy_and_the_start_is_read() -> None:
    content = diagram(
        '<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>'
        '<bpmn:task id="x"/><bpmn:boundaryEvent id="stop" attachedToRef="x">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="end"/><bpmn:endEvent id="stopped"/>',
        (("start", "x"), ("x", "end"), ("stop", "stopped")),
    )
    examined = examine(content, {})
    assert [p for p in examined.problems if p.severity == "error"] == []
    assert examined.model is not None and examined.model["message_start"] == "arrived"


@pytest.mark.parametrize(
    "element",
    [
        event("intermediateCatchEvent", "unnamed"),
        event("intermediateCatchEvent", None),
        '<bpmn:receiveTask id="x"/>',
        '<bpmn:receiveTask id="x" messageRef="nowhere"/>',
    ],
)
def test_a_message_without_a_name_is_refused(element: str) -> None:
    assert errors(between(element)) == [("x", "message-unnamed")]


@pytest.mark.parametrize(
    "element",
    [
        event("intermediateThrowEvent"),
        '<bpmn:sendTask id="x" messageRef="m"/>',
    ],
)
def test_a_diagram_sends_no_message(element: str) -> None:
    assert errors(between(element)) == [("x", "unsupported-element")]


def test_refused_message_forms_name_their_element() -> None:
    content = diagram(
        '<bpmn:startEvent id="start"/><bpmn:startEvent id="second"><bpmn:messageEventDefinition messageRef="m"/>'
        '</bpmn:startEvent><bpmn:subProcess id="x"><bpmn:startEvent id="inner">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent><bpmn:endEvent id="inner_end"/>'
        '<bpmn:sequenceFlow id="g" sourceRef="inner" targetRef="inner_end"/></bpmn:subProcess>'
        '<bpmn:boundaryEvent id="aside" attachedToRef="x" cancelActivity="false">'
        '<bpmn:messageEventDefinition messageRef="m"/></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="end"/><bpmn:endEvent id="aside_end"/>',
        (("start", "x"), ("second", "x"), ("x", "end"), ("aside", "aside_end")),
    )
    assert sorted(errors(content)) == [
        ("aside", "unsupported-element"),
        ("inner", "unsupported-element"),
        ("second", "unsupported-element"),
    ]


def test_correlation_properties_are_refused() -> None:
    content = between('<bpmn:receiveTask id="x" messageRef="m"/>').replace(
        b"<bpmn:process", b'<bpmn:correlationProperty id="order"/><bpmn:process'
    )
    assert errors(content) == [("order", "unsupported-element")]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.bpmn")), ids=lambda path: path.name)
def test_every_example_lints_clean(path: Path) -> None:
    bundle = from_folder(path, EXAMPLES / "forms")
    assert lint(bundle.diagram, bundle.forms, bundle.decisions) == []
