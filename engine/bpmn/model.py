"""What the product reads from a diagram beside the executable spec: statuses, forms, lanes.

All of it comes from the BPMN file and the form files next to it, never from Python code:

- ``camunda:properties`` on a flow node: ``status`` (machine name, e.g. ``review``) and
  ``status_label`` (shown to people). A user task's status is the item's status while it is open;
  an end event's status is the item's status once the process reaches it.
- ``camunda:formKey`` on a user task: a JSON Schema file in the forms folder.
- ``camunda:properties`` on a lane: ``candidates`` names the rule (see ``engine.assignment``) that
  decides who may complete the lane's tasks. Without the property the lane's id is taken as the rule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree

from engine.assignment import RULES
from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS
from engine.errors import InvalidDiagram

NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


def _properties(node: etree._Element) -> dict[str, str]:
    return {
        prop.get("name", ""): prop.get("value", "")
        for prop in node.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
    }


def _invalid(element: str, message: str) -> InvalidDiagram:
    return InvalidDiagram(message, errors=[{"element": element, "message": message}])


def _lanes(process: etree._Element) -> dict[str, dict[str, str]]:
    """Map each flow node id to its innermost lane's name and candidates rule."""
    by_node: dict[str, dict[str, str]] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        lane_id = lane.get("id", "")
        rule = _properties(lane).get("candidates", lane_id)
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            # Nested lanes are visited after their parent, so the innermost lane wins.
            by_node[(ref.text or "").strip()] = {"name": lane.get("name") or lane_id, "rule": rule}
    return by_node


def _load_form(forms_path: Path, element: str, key: str) -> dict[str, Any]:
    path = (forms_path / key).resolve()
    if forms_path.resolve() not in path.parents or not path.is_file():
        raise _invalid(element, f"表单文件不存在 Form file not found: {key!r} (user task {element!r})")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
    except (ValueError, SchemaError) as exc:
        raise _invalid(element, f"表单不是有效的 JSON Schema Form {key!r} is not a valid JSON Schema: {exc}") from exc
    if not isinstance(schema, dict):
        raise _invalid(element, f"Form {key!r} must be a JSON object")
    return schema


def _user_task(node: etree._Element, lane: dict[str, str] | None, forms_path: Path) -> dict[str, Any]:
    element = node.get("id", "")
    if lane is None:
        raise _invalid(element, f"用户任务不在任何泳道中 User task {element!r} is in no lane: nobody could complete it")
    if lane["rule"] not in RULES:
        raise _invalid(
            element,
            f"泳道的处理人规则未知 Lane {lane['name']!r} names unknown candidates rule {lane['rule']!r}; "
            f"known: {', '.join(sorted(RULES))}",
        )
    form_key = node.get(f"{{{CAMUNDA_NS}}}formKey")
    props = _properties(node)
    return {
        "title": node.get("name") or element,
        "lane": lane["name"],
        "candidates": lane["rule"],
        "form": _load_form(forms_path, element, form_key) if form_key else None,
        "form_key": form_key,
        "status": props.get("status"),
        "status_label": props.get("status_label") or props.get("status"),
    }


def read_model(process: etree._Element, forms_path: Path) -> dict[str, Any]:
    """Extract the product's view of one executable process; raises InvalidDiagram naming the element."""
    lanes = _lanes(process)
    tasks: dict[str, Any] = {}
    statuses: dict[str, dict[str, str]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}*"):
        element = node.get("id")
        if element is None:
            continue
        if node.tag == f"{{{BPMN_NS}}}userTask":
            tasks[element] = _user_task(node, lanes.get(element), forms_path)
        props = _properties(node)
        if "status" in props:
            statuses[element] = {"status": props["status"], "label": props.get("status_label") or props["status"]}
        _check_expressions(node, element)
    return {"name": process.get("name") or process.get("id"), "tasks": tasks, "statuses": statuses}


def _check_expressions(node: etree._Element, element: str) -> None:
    """Conditions and scripts must at least be valid Python: refuse them at deploy, not at run time."""
    sources = [(text, "eval") for text in node.xpath("./bpmn:conditionExpression/text()", namespaces=NS)]
    sources += [(text, "exec") for text in node.xpath("./bpmn:script/text()", namespaces=NS)]
    for text, mode in sources:
        try:
            compile(str(text).strip(), element, mode)
        except SyntaxError as exc:
            raise _invalid(element, f"表达式语法错误 Invalid expression in {element!r}: {exc.msg}") from exc
