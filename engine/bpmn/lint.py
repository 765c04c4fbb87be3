"""Lint a diagram and its forms: every problem at once, each naming its element, before anything is deployed.

Deploying is "lint, refuse if any error": the rules live where the deployment reads what they check
(``document``, ``structure``, ``model``, ``spiff_parse``) or in ``flow_rules`` and ``conditions``; this
module runs them in order. The XML Schema of BPMN 2.0 (the copy SpiffWorkflow ships) only warns: the
engine runs diagrams it does not fully allow, and refusing them now would refuse what deployed before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from sqlalchemy.orm import Session

from engine.bpmn import dmn
from engine.bpmn.builder import BPMN_NS
from engine.bpmn.bundle import FormRefused, read_form
from engine.bpmn.business_rules import MODEL_KEY as DECISIONS_MODEL_KEY
from engine.bpmn.business_rules import check_tasks, decided_variables, decision_refs
from engine.bpmn.call_rules import CALLED_ONLY, called_only, check_deployed, deployed_calls
from engine.bpmn.conditions import check_conditions
from engine.bpmn.decisions import DeployedKeys
from engine.bpmn.document import decode, executable_process, parse_xml, process_key
from engine.bpmn.findings import Findings, Problem
from engine.bpmn.flow_graph import flow_graph
from engine.bpmn.flow_rules import check_paths, check_statuses
from engine.bpmn.message_rules import message_start
from engine.bpmn.model import form_keys, read_model
from engine.bpmn.spiff_parse import parse_specs
from engine.bpmn.structure import check_structure
from engine.store.errors import InvalidDiagram

T = TypeVar("T")


@dataclass(frozen=True)
class Examined:
    """What linting found; the key, name, model and specs are only there when no error was found."""

    problems: list[Problem]
    key: str = ""
    name: str = ""
    model: dict[str, Any] | None = None
    specs: str | None = None
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # the bundle's forms, read


@cache
def _schema() -> etree.XMLSchema:
    return BpmnValidator().validator


def _nearest_id(node: etree._Element | None) -> str:
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return "" if node is None else node.get("id", "")


def _check_schema(root: etree._Element, findings: Findings) -> None:
    schema = _schema()
    if schema.validate(root):
        return
    by_line: dict[int, etree._Element] = {}
    for node in root.iter():
        by_line.setdefault(node.sourceline or 0, node)
    for error in schema.error_log:
        message = error.message.replace(f"{{{BPMN_NS}}}", "bpmn:")
        findings.warning(
            "xml-schema",
            _nearest_id(by_line.get(error.line)),
            f"不符合 BPMN 2.0 XML Schema Not valid against the BPMN 2.0 XML Schema: {message}",
            error.line,
        )


def _fatal(step: Callable[[], T], code: str, findings: Findings) -> T | None:
    """Run a step without which the rest cannot be read; its refusal is the one problem found."""
    try:
        return step()
    except InvalidDiagram as exc:
        findings.error(code, exc.errors[0]["element"] if exc.errors else "", exc.detail)
        return None


def _with_lines(root: etree._Element, problems: list[Problem]) -> list[Problem]:
    lines: dict[str, int] = {}
    for node in root.iter():
        element = node.get("id")
        if element is not None and node.sourceline is not None:
            lines.setdefault(element, node.sourceline)
    return [
        problem if problem.line is not None else Problem(**{**vars(problem), "line": lines.get(problem.element)})
        for problem in problems
    ]


def _read_forms(
    key: str, named: Mapping[str, str], forms: Mapping[str, bytes], findings: Findings
) -> dict[str, dict[str, Any] | None]:
    """Each form of the bundle read and checked, by key (None: refused, reported naming the form and its task)."""
    schemas: dict[str, dict[str, Any] | None] = {}
    for form, content in sorted(forms.items()):
        try:
            schemas[form] = read_form(form, content)
        except FormRefused as exc:
            schemas[form] = None
            findings.error(exc.code, named.get(form, key), exc.detail, form=form)
            continue
        if form not in named:  # most likely a misspelt key
            english = f"No user task of {key!r} names form {form!r} (camunda:formKey): remove it"
            findings.error("form-unused", key, f"表单 {form!r} 没有用户任务使用 {english}", form=form)
    return schemas


def _read_decisions(
    files: Mapping[str, bytes], findings: Findings
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """The bundle's DMN files checked, each problem naming its element and file: decision key -> its file's
    name and hash (``business_rules.MODEL_KEY``); and each decision's output names."""
    found: dict[str, dict[str, str]] = {}
    outputs: dict[str, list[str]] = {}
    for name, content in sorted(files.items()):
        inner = Findings()
        for table in dmn.read_tables(content, inner):
            if table.key in found:
                inner.error(
                    "dmn-decision", table.key, f"决策 {table.key!r} 重复 Decision {table.key!r} is in two files"
                )
            found[table.key] = {"file": name, "sha256": dmn.digest(content)}
            outputs[table.key] = [column.name for column in table.outputs]
        for problem in inner.problems:
            findings.error(problem.code, problem.element, f"{name}: {problem.message}")
    return found, outputs


def examine(
    content: bytes,
    forms: Mapping[str, bytes],
    decisions: Mapping[str, bytes] | None = None,
    session: Session | None = None,
) -> Examined:
    """Lint the diagram ``content`` with ``forms`` (form key → the form file's content) and read what deploys.

    ``decisions`` are the bundle's DMN files (file name → content). With a ``session``, what the diagram names
    of the database is checked too: a business rule task's decision is in the bundle or deployed, and the
    processes its call activities call are deployed. Without one, only the bundle is (``rectiflow lint``).
    """
    findings = Findings()
    bundled, outputs = _read_decisions(decisions or {}, findings)
    text = _fatal(lambda: decode(content), "not-utf8", findings)
    root = _fatal(lambda: parse_xml(content), "xml-invalid", findings) if text is not None else None
    if root is None:
        return Examined(findings.problems)
    process = _fatal(lambda: executable_process(root), "process-missing", findings)
    if process is None:
        return Examined(findings.problems)
    key, name = _fatal(lambda: process_key(process), "process-key-invalid", findings) or (process.get("id", ""), "")
    _check_schema(root, findings)
    check_structure(root, process, findings)
    # The parser reports wrongly, crashes on or hangs on a diagram with a structural error.
    parsable = not findings.has_errors
    schemas = _read_forms(key, form_keys(process), forms, findings)
    model = read_model(process, schemas, findings)
    model["name"] = name
    model["message_start"] = message_start(process)
    if called_only(process):  # only then: the models of other diagrams stay as they were
        model[CALLED_ONLY] = True
    deployed = DeployedKeys(session) if session is not None else None
    check_tasks(process, bundled, deployed, findings)
    if deployed is not None:  # the variables a deployed decision sets, for the conditions that read them
        outputs |= {key: deployed.outputs(key) for key in decision_refs(process) - outputs.keys()}
    if bundled:  # absent otherwise: a bundle without decisions keeps the model it always had
        model[DECISIONS_MODEL_KEY] = bundled
    if called := deployed_calls(root):  # only then: the models of diagrams without calls stay as they were
        model["calls"] = called
    if session is not None:
        findings.problems.extend(check_deployed(session, key, model))
    graph = flow_graph(process)
    check_paths(process, graph, findings)
    check_statuses(process, graph, model, findings)
    forms_by_task = {element: task["form"] for element, task in model["tasks"].items()}
    check_conditions(process, graph, forms_by_task, findings, decided_variables(process, outputs))
    specs = _fatal(lambda: parse_specs(root, key), "parse-error", findings) if parsable else None
    problems = _with_lines(root, findings.problems)
    if findings.has_errors:
        return Examined(problems)
    return Examined(problems, key, name, model, specs, {form: schema for form, schema in schemas.items() if schema})


def lint(
    content: bytes,
    forms: Mapping[str, bytes],
    decisions: Mapping[str, bytes] | None = None,
    session: Session | None = None,
) -> list[Problem]:
    """Every problem of the diagram, its forms and decisions, errors and warnings, each naming its element."""
    return examine(content, forms, decisions, session).problems
