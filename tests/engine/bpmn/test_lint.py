"""The lint: every problem of a diagram and its forms at once, each naming its element; shipped diagrams are clean."""

from __future__ import annotations

import json

import pytest

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, from_folder
from engine.bpmn.findings import Problem, Severity
from engine.bpmn.lint import lint
from engine.store.config import REPO_ROOT
from engine.store.errors import InvalidDiagram

PROCESSES = REPO_ROOT / "processes"
ASK_FORM = {
    "type": "object",
    "properties": {"decision": {"type": "string", "enum": ["approve", "reject", "defer"]}},
    "required": ["decision"],
}
FORMS = {"ask.json": json.dumps(ASK_FORM).encode()}


def status(value: str) -> str:
    return (
        '<bpmn:extensionElements><camunda:properties><camunda:property name="status" value="' + value + '"/>'
        "</camunda:properties></bpmn:extensionElements>"
    )


def lane(lane_id: str, rule: str, *elements: str) -> str:
    refs = "".join(f"<bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>" for element in elements)
    return (
        f'<bpmn:lane id="{lane_id}"><bpmn:extensionElements><camunda:properties><camunda:property '
        f'name="candidates" value="{rule}"/></camunda:properties></bpmn:extensionElements>{refs}</bpmn:lane>'
    )


# start → compute (a script the sandbox refuses) → ask → decide: approve → done, defer → check (whose form is
# missing, whose lane names no rule, and which leads nowhere); nothing for reject and no default flow; orphan
# is reached by no flow.
BROKEN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="https://x.test">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:laneSet id="lanes">{lane("people", "owner", "ask")}{lane("bosses", "bosses", "check")}</bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="compute"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="ask" camunda:formKey="ask.json">{status("asking")}</bpmn:userTask>
    <bpmn:exclusiveGateway id="decide"/>
    <bpmn:userTask id="check" camunda:formKey="nope.json"/>
    <bpmn:task id="orphan"/>
    <bpmn:endEvent id="done">{status("done")}</bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="ask"/>
    <bpmn:sequenceFlow id="f3" sourceRef="ask" targetRef="decide"/>
    <bpmn:sequenceFlow id="approve" sourceRef="decide" targetRef="done">
      <bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="defer" sourceRef="decide" targetRef="check">
      <bpmn:conditionExpression>decision == "defer" and urgent</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="orphan" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()

BROKEN_ERRORS = {
    ("compute", "expression-refused"),
    ("check", "form-missing"),
    ("bosses", "lane-rule-unknown"),
    ("check", "dead-end"),
    ("orphan", "unreachable"),
    ("decide", "gateway-uncovered"),
}
BROKEN_WARNINGS = {("defer", "variable-unknown"), ("check", "status-missing")}


def found(problems: list[Problem], severity: Severity) -> set[tuple[str, str]]:
    return {(problem.element, problem.code) for problem in problems if problem.severity is severity}


def test_every_problem_is_reported_at_once_with_its_element_and_line() -> None:
    problems = lint(BROKEN, FORMS)
    assert found(problems, Severity.ERROR) == BROKEN_ERRORS
    assert found(problems, Severity.WARNING) == BROKEN_WARNINGS
    assert all(problem.line for problem in problems)
    by_code = {problem.code: problem.message for problem in problems}
    assert "'reject'" in by_code["gateway-uncovered"]  # the value no condition holds for
    assert "urgent" in by_code["variable-unknown"]
    assert "Imports are not allowed" in by_code["expression-refused"]


def test_a_deployment_is_refused_with_every_error_not_only_the_first() -> None:
    with pytest.raises(InvalidDiagram) as caught:
        deploy.build(Bundle(BROKEN, {"ask.json": FORMS["ask.json"]}))
    assert {(error["element"], error["code"]) for error in caught.value.errors} == BROKEN_ERRORS
    for element, _code in BROKEN_ERRORS:
        assert f"- {element}: " in caught.value.detail


def test_a_fixed_diagram_lints_clean_and_deploys() -> None:
    fixed = (
        BROKEN.replace(b'<bpmn:exclusiveGateway id="decide"/>', b'<bpmn:exclusiveGateway id="decide" default="defer"/>')
        .replace(b"import os", b"answer = 6 * 7")
        .replace(b" and urgent", b"")
        .replace(b'value="bosses"', b'value="approvers"')
        .replace(
            b'camunda:formKey="nope.json"/>',
            b'camunda:formKey="ask.json">' + status("checking").encode() + b"</bpmn:userTask>",
        )
        .replace(b'<bpmn:task id="orphan"/>', b"")
        .replace(
            b'<bpmn:sequenceFlow id="f4" sourceRef="orphan" targetRef="done"/>',
            b'<bpmn:sequenceFlow id="f4" sourceRef="check" targetRef="done"/>',
        )
    )
    defaulted = fixed.replace(b'<bpmn:conditionExpression>decision == "defer"</bpmn:conditionExpression>', b"")
    assert lint(defaulted, FORMS) == []


def test_conditions_may_read_the_items_category_and_severity() -> None:
    reads_the_item = BROKEN.replace(b" and urgent", ' and severity == "严重" and category != ""'.encode())
    assert ("defer", "variable-unknown") not in found(lint(reads_the_item, FORMS), Severity.WARNING)


@pytest.mark.parametrize(
    ("conditions", "uncovered"),
    [
        (['decision == "approve"', 'decision in ("reject", "defer")'], None),
        (['decision == "approve"', 'decision != "approve" and decision != "defer"'], "'defer'"),
        (['decision == "approve" or decision == "reject"', 'not decision in ["approve", "reject"]'], None),
        (['decision == "approve"', "comment"], None),  # a condition that cannot be read may hold for any value
    ],
)
def test_a_gateway_without_default_must_cover_every_choice_of_the_form(
    conditions: list[str], uncovered: str | None
) -> None:
    flows = "".join(
        f'<bpmn:sequenceFlow id="c{n}" sourceRef="decide" targetRef="done"><bpmn:conditionExpression>'
        f"{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        for n, condition in enumerate(conditions)
    )
    content = (
        BROKEN.split(b'<bpmn:sequenceFlow id="approve"')[0] + flows.encode() + b"</bpmn:process></bpmn:definitions>"
    )
    messages = [problem.message for problem in lint(content, FORMS) if problem.code == "gateway-uncovered"]
    assert [uncovered in message for message in messages] == ([] if uncovered is None else [True])


def test_the_shipped_diagrams_lint_clean() -> None:
    for path in sorted(PROCESSES.glob("*.bpmn")):
        shipped = from_folder(path, PROCESSES / "forms")
        assert lint(shipped.diagram, shipped.forms, shipped.decisions) == [], path.name


def test_schema_errors_warn_with_their_line_and_element() -> None:
    content = (
        (PROCESSES / "rectification_item.bpmn")
        .read_bytes()
        .replace(b'<bpmn:sequenceFlow id="flow_to_owner"', b'<bpmn:sequenceFlow bogus="1" id="flow_to_owner"')
    )
    bundle = from_folder(PROCESSES / "rectification_item.bpmn", PROCESSES / "forms")
    problems = lint(content, bundle.forms, bundle.decisions)
    (problem,) = problems
    assert (problem.element, problem.code, problem.severity) == ("flow_to_owner", "xml-schema", Severity.WARNING)
    assert "bogus" in problem.message and problem.line == content[: content.index(b"bogus")].count(b"\n") + 1


def test_malformed_xml_is_one_error() -> None:
    (problem,) = lint(b"<bpmn:definitions", {})
    assert (problem.code, problem.severity) == ("xml-invalid", Severity.ERROR)
