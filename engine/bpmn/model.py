"""What the product reads from a diagram beside the executable spec: statuses, forms, lanes.

All of it comes from the BPMN file and the form files deployed with it, never from Python code:

- ``camunda:properties`` on a flow node: ``status`` (machine name, e.g. ``review``) and
  ``status_label`` (shown to people). A user task's status is the item's status while it is open;
  an end event's status is the item's status once the process reaches it.
- ``camunda:properties`` on an event: ``escalation`` (e.g. ``warning``, ``overdue``): when the event
  fires (a deadline timer), the item's history records an escalation of that kind.
- ``camunda:formKey`` on a user task: a JSON Schema file deployed with the diagram (``forms/<key>`` of its bundle).
- ``camunda:properties`` on a lane: ``candidates`` names the rule (``engine.bpmn.lanes``) that
  decides who may complete the lane's tasks. Without the property the lane's id is taken as the rule.
  A task inside an expanded sub-process that no lane lists takes the lane of its sub-process.

Everything read here ends up in a database column when an item runs, so it is checked against the
column's size at deploy time: a diagram either deploys and runs, or is refused naming the element.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS
from engine.bpmn.lanes import LaneRule
from engine.bpmn.sandbox import CodeRefused, compile_code
from engine.store.errors import InvalidDiagram
from engine.store.models import Item, Task

NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


def _column_length(column: Any) -> int:
    return int(column.type.length)


# The columns these values are copied into while an item runs.
MAX_STATUS = _column_length(Item.__table__.c.status)
MAX_STATUS_LABEL = _column_length(Item.__table__.c.status_label)
MAX_TASK_NAME = _column_length(Task.__table__.c.name)
MAX_TASK_TITLE = _column_length(Task.__table__.c.title)
MAX_LANE_NAME = _column_length(Task.__table__.c.lane)
# A condition longer than this is not a condition a person wrote; the Python parser also runs out of
# memory (MemoryError) on pathological input long before the upload limit.
MAX_EXPRESSION = 10_000

# Where Spiff evaluates Python: sequence-flow conditions, scripts, timers, loop and event conditions.
_EXPRESSIONS = {
    "./bpmn:conditionExpression": "eval",
    "./bpmn:script": "exec",
    "./bpmn:timerEventDefinition/bpmn:timeDate": "eval",
    "./bpmn:timerEventDefinition/bpmn:timeDuration": "eval",
    "./bpmn:timerEventDefinition/bpmn:timeCycle": "eval",
    "./bpmn:conditionalEventDefinition/bpmn:condition": "eval",
    "./bpmn:standardLoopCharacteristics/bpmn:loopCondition": "eval",
    "./bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality": "eval",
    "./bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition": "eval",
    "./bpmn:completionCondition": "eval",
}


def _properties(node: etree._Element) -> dict[str, str]:
    return {
        prop.get("name", ""): prop.get("value", "")
        for prop in node.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
    }


def _lanes(process: etree._Element) -> dict[str, dict[str, str]]:
    """Map each flow node id to its innermost lane's id, name and candidates rule."""
    by_node: dict[str, dict[str, str]] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        lane_id = lane.get("id", "")
        props = _properties(lane)
        rule = props.get("candidates", lane_id)
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            # Nested lanes are visited after their parent, so the innermost lane wins.
            by_node[(ref.text or "").strip()] = {
                "id": lane_id,
                "name": lane.get("name") or lane_id,
                "rule": rule,
                "explicit": "candidates" if "candidates" in props else "",
            }
    return by_node


def _lane_of(node: etree._Element, lanes: dict[str, dict[str, str]], process: etree._Element) -> dict[str, str] | None:
    """The node's lane, or the lane of the nearest enclosing sub-process (as SpiffWorkflow does)."""
    current: etree._Element | None = node
    while current is not None and current is not process:
        lane = lanes.get(current.get("id", ""))
        if lane is not None:
            return lane
        current = current.getparent()
    return None


# A form travels in a bundle as ``forms/<key>``: its key is a plain file name, the same on every system.
_FORM_KEY = re.compile(r"[^/\\:\x00-\x1f]{1,195}\.json\Z")


def form_key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a form file of a bundle, or None."""
    if _FORM_KEY.match(key) and not key.startswith("."):
        return None
    return (
        f"表单名 {key!r} 必须是 forms 目录中的文件名 Form key {key!r} must be a file name in forms/ ending in .json "
        "(no folders, no '..', at most 200 characters)"
    )


def form_keys(process: etree._Element) -> dict[str, str]:
    """Each form key the process's user tasks name, with the first task naming it."""
    keys: dict[str, str] = {}
    for node in process.iter(f"{{{BPMN_NS}}}userTask"):
        key = node.get(f"{{{CAMUNDA_NS}}}formKey")
        if key:
            keys.setdefault(key, node.get("id", ""))
    return keys


def _form(schemas: Mapping[str, dict[str, Any]], element: str, key: str) -> dict[str, Any]:
    problem = form_key_problem(key)
    if problem is not None:
        raise InvalidDiagram.at(element, f"{problem} (user task {element!r})")
    if key not in schemas:
        raise InvalidDiagram(
            f"流程包中没有表单 {key!r}（用户任务 {element!r}） Form {key!r} of user task {element!r} is not in the "
            f"bundle: send it as forms/{key}",
            errors=[{"element": element, "form": key, "message": f"form {key!r} is missing"}],
        )
    return schemas[key]


def _check_length(element: str, what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidDiagram.at(
            element, f"{what} 过长 {what} of {element!r} is {len(value)} characters long; at most {limit} are allowed"
        )


def _check_lane(element: str, lane: dict[str, str] | None) -> dict[str, str]:
    if lane is None:
        raise InvalidDiagram.at(
            element, f"用户任务不在任何泳道中 User task {element!r} is in no lane: nobody could complete it"
        )
    if lane["rule"] not in set(LaneRule):
        known = ", ".join(sorted(LaneRule))
        if lane["explicit"]:
            message = (
                f"泳道的处理人规则未知 Lane {lane['name']!r} (of user task {element!r}) names unknown candidates rule "
                f"{lane['rule']!r}; known: {known}"
            )
        else:
            message = (
                f"泳道没有处理人规则 Lane {lane['name']!r} (of user task {element!r}) has no 'candidates' property and "
                f"its id {lane['id']!r} is not a rule: add the property with one of {known}"
            )
        raise InvalidDiagram.at(lane["id"], message)
    _check_length(lane["id"], "泳道名称 Lane name", lane["name"], MAX_LANE_NAME)
    return lane


def _user_task(
    node: etree._Element, lane: dict[str, str] | None, schemas: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    element = node.get("id", "")
    _check_length(element, "任务 id Task id", element, MAX_TASK_NAME)
    title = node.get("name") or element
    _check_length(element, "任务名称 Task name", title, MAX_TASK_TITLE)
    lane = _check_lane(element, lane)
    form_key = node.get(f"{{{CAMUNDA_NS}}}formKey")
    props = _properties(node)
    return {
        "title": title,
        "lane": lane["name"],
        "candidates": lane["rule"],
        "form": _form(schemas, element, form_key) if form_key else None,
        "form_key": form_key,
        "status": props.get("status"),
        "status_label": props.get("status_label") or props.get("status"),
        # One instance per element (e.g. per unit): each is a part of the item, shown as such.
        "multi_instance": bool(node.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)),
    }


def _status(element: str, props: dict[str, str]) -> dict[str, str]:
    status = props["status"].strip()
    if not status:
        raise InvalidDiagram.at(element, f"状态为空 The status property of {element!r} is empty")
    _check_length(element, "状态 Status", status, MAX_STATUS)
    label = props.get("status_label") or status
    _check_length(element, "状态名称 Status label", label, MAX_STATUS_LABEL)
    return {"status": status, "label": label}


def read_model(process: etree._Element, schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Extract the product's view of one executable process; raises InvalidDiagram naming the element.

    ``schemas`` are the bundle's forms by key, already read and checked (``engine.bpmn.bundle``).
    """
    lanes = _lanes(process)
    tasks: dict[str, Any] = {}
    statuses: dict[str, dict[str, str]] = {}
    escalations: dict[str, dict[str, str]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}*"):
        element = node.get("id")
        if element is None:
            continue
        if node.tag == f"{{{BPMN_NS}}}userTask":
            tasks[element] = _user_task(node, _lane_of(node, lanes, process), schemas)
        props = _properties(node)
        if "status" in props:
            statuses[element] = _status(element, props)
        if "escalation" in props:
            escalations[element] = {"kind": props["escalation"], "name": node.get("name") or element}
        _check_expressions(node, element)
    return {
        "name": process.get("name") or process.get("id"),
        "tasks": tasks,
        # In lifecycle order, so that status tabs and lists follow the way an item goes.
        "statuses": {element: statuses[element] for element in _flow_order(process) if element in statuses},
        "escalations": escalations,
    }


def _flow_order(process: etree._Element) -> list[str]:
    """Every element id, breadth first along the sequence flows from the start; the unreached after, as written."""
    written = [node.get("id", "") for node in process.iter(f"{{{BPMN_NS}}}*") if node.get("id")]
    following: dict[str, list[str]] = {}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        following.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    for node in process.iter(f"{{{BPMN_NS}}}boundaryEvent"):
        following.setdefault(node.get("attachedToRef", ""), []).append(node.get("id", ""))
    for node in process.iter(f"{{{BPMN_NS}}}subProcess"):
        starts = node.xpath("./bpmn:startEvent/@id", namespaces=NS)
        following.setdefault(node.get("id", ""), []).extend(str(start) for start in starts)
    queue = [str(start) for start in process.xpath("./bpmn:startEvent/@id", namespaces=NS)]
    seen = dict.fromkeys(queue)
    while queue:
        for target in following.get(queue.pop(0), []):
            if target not in seen:
                seen[target] = None
                queue.append(target)
    return [*seen, *(element for element in written if element not in seen)]


def _check_expressions(node: etree._Element, element: str) -> None:
    """Conditions, scripts and timers are Python: refuse invalid ones at deploy, not when an item reaches them.

    SpiffWorkflow runs an element's ``text`` as written (``eval``/``exec``), so that is what is compiled.
    """
    for path, mode in _EXPRESSIONS.items():
        for expression in node.xpath(path, namespaces=NS):
            if expression.text is not None:
                language = expression.get("language") or (node.get("scriptFormat") if mode == "exec" else None)
                _compile(element, expression.text, mode, language)


def _compile(element: str, text: str, mode: str, language: str | None) -> None:
    if language and "python" not in language.lower():
        raise InvalidDiagram.at(
            element,
            f"不支持的表达式语言 {element!r} uses language {language!r}: Rectiflow evaluates Python only "
            "(leave the language empty or set it to python)",
        )
    if not text.strip():
        raise InvalidDiagram.at(element, f"表达式为空 The expression in {element!r} is empty")
    if len(text) > MAX_EXPRESSION:
        raise InvalidDiagram.at(
            element, f"表达式过长 Expression in {element!r} is {len(text)} characters long; at most {MAX_EXPRESSION}"
        )
    hint = ""
    if text.lstrip().startswith(("${", "#{", "=")):
        hint = " (this looks like a JUEL or FEEL expression: Rectiflow evaluates Python, e.g. decision == 'approve')"
    elif text != text.lstrip():
        hint = " (it is run exactly as written: remove the line break or indentation before it)"
    try:
        # eval() skips leading spaces and tabs of an expression; exec() runs a script as it is.
        compile(text.lstrip(" \t") if mode == "eval" else text, element, mode)
        # What it will run as: the sandbox refuses imports, '_' names, open/eval/getattr, 9**9**9...
        compile_code(text, "eval" if mode == "eval" else "exec")
    except SyntaxError as exc:
        raise InvalidDiagram.at(
            element, f"表达式语法错误 Invalid Python expression in {element!r}: {exc.msg}: {text.strip()[:200]!r}{hint}"
        ) from exc
    except CodeRefused as exc:
        raise InvalidDiagram.at(
            element, f"表达式含有不允许的代码 The code in {element!r} is not allowed in a diagram: {exc}"
        ) from exc
    except (ValueError, MemoryError, RecursionError) as exc:
        raise InvalidDiagram.at(
            element, f"表达式无法解析 Expression in {element!r} is too complex to parse{hint}"
        ) from exc
