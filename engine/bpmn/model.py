"""What the product reads from a diagram beside the executable spec: statuses, forms, lanes.

All of it comes from the BPMN file and the form files deployed with it, never from Python code:

- ``camunda:properties`` on a flow node: ``status`` (machine name, e.g. ``review``) and
  ``status_label`` (shown to people). A user task's status is the item's status while it is open;
  an end event's status is the item's status once the process reaches it.
- ``camunda:properties`` on an event: ``escalation`` (e.g. ``warning``, ``overdue``): when the event
  fires (a deadline timer), the item's history records an escalation of that kind.
- ``camunda:topic`` on an external service task: the topic its workers fetch.
- ``camunda:formKey`` on a user task: a JSON Schema among the forms deployed with the diagram.
- ``camunda:properties`` on a lane: ``candidates`` names the rule (``engine.bpmn.lanes``) that
  decides who may complete the lane's tasks. Without the property the lane's id is taken as the rule.
  A task inside an expanded sub-process that no lane lists takes the lane of its sub-process.

Everything read here ends up in a database column when an item runs, so it is checked against the
column's size at deploy time: a diagram either deploys and runs, or is refused naming the element.
Each problem is reported to a ``Findings`` and reading goes on, so that all of them are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from engine.bpmn import people
from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS
from engine.bpmn.external import EXTERNAL
from engine.bpmn.findings import Findings
from engine.bpmn.flow_graph import flow_graph, reach, starts
from engine.bpmn.lanes import LaneRule
from engine.bpmn.sandbox import CodeRefused, compile_code
from engine.store.models import ExternalTask, Item, Task, User

NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


def _column_length(column: Any) -> int:
    return int(column.type.length)


# The columns these values are copied into while an item runs.
MAX_STATUS = _column_length(Item.__table__.c.status)
MAX_STATUS_LABEL = _column_length(Item.__table__.c.status_label)
MAX_TASK_NAME = _column_length(Task.__table__.c.name)
MAX_TASK_TITLE = _column_length(Task.__table__.c.title)
MAX_LANE_NAME = _column_length(Task.__table__.c.lane)
MAX_ROLES = _column_length(Task.__table__.c.candidate_role)
MAX_USERNAME = _column_length(User.__table__.c.username)
MAX_TOPIC = _column_length(ExternalTask.__table__.c.topic)
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


def properties(node: etree._Element) -> dict[str, str]:
    """A node's ``camunda:properties``, name → value."""
    return {
        prop.get("name", ""): prop.get("value", "")
        for prop in node.xpath("./bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)
    }


def _lanes(process: etree._Element) -> dict[str, dict[str, str]]:
    """Map each flow node id to its innermost lane's id, name and candidates rule."""
    by_node: dict[str, dict[str, str]] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        lane_id = lane.get("id", "")
        props = properties(lane)
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


def _load_form(
    schemas: Mapping[str, dict[str, Any] | None], element: str, key: str, findings: Findings
) -> dict[str, Any] | None:
    """The form ``key`` names among the bundle's, already checked (None: refused, and reported, there)."""
    if key in schemas:
        return schemas[key]
    problem = form_key_problem(key)
    if problem is not None:
        findings.error("form-key", element, f"{problem} (user task {element!r})", form=key)
        return None
    message = (
        f"流程包中没有表单 {key!r}（用户任务 {element!r}） Form {key!r} of user task {element!r} is not in the "
        f"bundle: send it as forms/{key}"
    )
    findings.error("form-missing", element, message, form=key)
    return None


def _check_length(element: str, what: str, value: str, limit: int, findings: Findings) -> None:
    if len(value) > limit:
        findings.error(
            "too-long",
            element,
            f"{what} 过长 {what} of {element!r} is {len(value)} characters long; at most {limit} are allowed",
        )


def _check_lane(element: str, lane: dict[str, str] | None, decides: bool, findings: Findings) -> dict[str, str]:
    """The task's lane, checked; ``decides``: its rule says who may act (the task names no people itself)."""
    if lane is None and not decides:
        return {"id": "", "name": "", "rule": "", "explicit": ""}
    if lane is None:
        findings.error(
            "lane-missing",
            element,
            f"用户任务不在任何泳道中 User task {element!r} is in no lane: nobody could complete it",
        )
        return {"id": "", "name": "", "rule": "", "explicit": ""}
    reported = any(
        problem.code == "lane-rule-unknown" and problem.element == lane["id"] for problem in findings.problems
    )
    if decides and lane["rule"] not in set(LaneRule) and not reported:  # once per lane, naming its first task
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
        findings.error("lane-rule-unknown", lane["id"], message)
    _check_length(lane["id"], "泳道名称 Lane name", lane["name"], MAX_LANE_NAME, findings)
    return lane


def _user_task(
    node: etree._Element,
    lane: dict[str, str] | None,
    schemas: Mapping[str, dict[str, Any] | None],
    findings: Findings,
) -> dict[str, Any]:
    element = node.get("id", "")
    _check_length(element, "任务 id Task id", element, MAX_TASK_NAME, findings)
    title = node.get("name") or element
    _check_length(element, "任务名称 Task name", title, MAX_TASK_TITLE, findings)
    named = _people(node, element, findings)
    lane = _check_lane(element, lane, named is None, findings)
    form_key = node.get(f"{{{CAMUNDA_NS}}}formKey")
    props = properties(node)
    return {
        "title": title,
        "lane": lane["name"],
        # The lane's rule decides who may act, unless the task names people itself.
        "candidates": lane["rule"] if named is None else "",
        "people": named,
        "form": _load_form(schemas, element, form_key, findings) if form_key else None,
        "form_key": form_key,
        "status": props.get("status"),
        "status_label": props.get("status_label") or props.get("status"),
        # One instance per element (e.g. per unit): each is a part of the item, shown as such.
        "multi_instance": bool(node.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)),
    }


def _people(node: etree._Element, element: str, findings: Findings) -> dict[str, Any] | None:
    """The task's Camunda assignment attributes (``engine.bpmn.people``), checked; None: it has none."""
    found = {
        attribute: text
        for attribute in (people.CANDIDATE_GROUPS, people.CANDIDATE_USERS, people.ASSIGNEE)
        if (text := people.camunda_attribute(node, attribute))
    }
    if not found:
        return None
    named: dict[str, Any] = {"roles": [], "unit": None, **{attribute: found.get(attribute) for attribute in _NAMING}}
    for attribute, text in found.items():
        try:
            if attribute == people.CANDIDATE_GROUPS:
                named["roles"], named["unit"] = people.groups(text)
                _check_length(element, "候选组 candidateGroups", f",{','.join(named['roles'])},", MAX_ROLES, findings)
            elif (inner := people.expression(text)) is not None:
                _compile(element, inner, "eval", None, findings)
            else:
                _check_names(attribute, people.names(text))
        except people.Refused as exc:
            findings.error(
                "assignment-invalid", element, f"处理人属性有误 camunda:{attribute} of user task {element!r}: {exc}"
            )
    return named


_NAMING = (people.CANDIDATE_USERS, people.ASSIGNEE)


def _check_names(attribute: str, names: list[str]) -> None:
    if attribute == people.ASSIGNEE and len(names) > 1:
        raise people.Refused("处理人只能是一个人 an assignee is one username (use candidateUsers for several)")
    for name in names:
        if len(name) > MAX_USERNAME or any(character.isspace() for character in name):
            raise people.Refused(f"用户名无效 {name[:80]!r} is not a username (no spaces, at most {MAX_USERNAME})")


def _external_task(node: etree._Element, findings: Findings) -> dict[str, str]:
    element = node.get("id", "")
    _check_length(element, "任务 id Task id", element, MAX_TASK_NAME, findings)
    topic = (node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
    if not topic:
        findings.error(
            "topic-missing",
            element,
            f"外部服务任务没有主题 External service task {element!r} has no camunda:topic: no worker would fetch it",
        )
    _check_length(element, "主题 Topic", topic, MAX_TOPIC, findings)
    return {"title": node.get("name") or element, "topic": topic}


def _status(element: str, props: dict[str, str], findings: Findings) -> dict[str, str]:
    status = props["status"].strip()
    if not status:
        findings.error("status-empty", element, f"状态为空 The status property of {element!r} is empty")
    _check_length(element, "状态 Status", status, MAX_STATUS, findings)
    label = props.get("status_label") or status
    _check_length(element, "状态名称 Status label", label, MAX_STATUS_LABEL, findings)
    return {"status": status, "label": label}


def read_model(
    process: etree._Element, schemas: Mapping[str, dict[str, Any] | None], findings: Findings
) -> dict[str, Any]:
    """Extract the product's view of one executable process, reporting each problem with the element named.

    ``schemas`` are the bundle's forms by key, read and checked (``engine.bpmn.bundle.read_form``; None: refused).
    The model is complete only if no error was reported.
    """
    lanes = _lanes(process)
    tasks: dict[str, Any] = {}
    statuses: dict[str, dict[str, str]] = {}
    escalations: dict[str, dict[str, str]] = {}
    external: dict[str, dict[str, str]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}*"):
        element = node.get("id")
        if element is None:
            continue
        if node.tag == f"{{{BPMN_NS}}}userTask":
            tasks[element] = _user_task(node, _lane_of(node, lanes, process), schemas, findings)
        elif node.tag == f"{{{BPMN_NS}}}serviceTask" and node.get(f"{{{CAMUNDA_NS}}}type") == EXTERNAL:
            external[element] = _external_task(node, findings)
        props = properties(node)
        if "status" in props:
            statuses[element] = _status(element, props, findings)
        if "escalation" in props:
            escalations[element] = {"kind": props["escalation"], "name": node.get("name") or element}
        _check_expressions(node, element, findings)
    return {
        "name": process.get("name") or process.get("id"),
        "tasks": tasks,
        # In lifecycle order, so that status tabs and lists follow the way an item goes.
        "statuses": {element: statuses[element] for element in _flow_order(process) if element in statuses},
        "escalations": escalations,
        "external": external,
    }


def _flow_order(process: etree._Element) -> list[str]:
    """Every element id, breadth first along the sequence flows from the start; the unreached after, as written."""
    written = [node.get("id", "") for node in process.iter(f"{{{BPMN_NS}}}*") if node.get("id")]
    seen = reach(flow_graph(process), starts(process))
    return [*seen, *(element for element in written if element not in seen)]


def _check_expressions(node: etree._Element, element: str, findings: Findings) -> None:
    """Conditions, scripts and timers are Python: refuse invalid ones at deploy, not when an item reaches them.

    SpiffWorkflow runs an element's ``text`` as written (``eval``/``exec``), so that is what is compiled.
    """
    for path, mode in _EXPRESSIONS.items():
        for expression in node.xpath(path, namespaces=NS):
            if expression.text is not None:
                language = expression.get("language") or (node.get("scriptFormat") if mode == "exec" else None)
                _compile(element, expression.text, mode, language, findings)


def _compile(element: str, text: str, mode: str, language: str | None, findings: Findings) -> None:
    if language and "python" not in language.lower():
        findings.error(
            "expression-language",
            element,
            f"不支持的表达式语言 {element!r} uses language {language!r}: Rectiflow evaluates Python only "
            "(leave the language empty or set it to python)",
        )
        return
    if not text.strip():
        findings.error("expression-empty", element, f"表达式为空 The expression in {element!r} is empty")
        return
    if len(text) > MAX_EXPRESSION:
        findings.error(
            "expression-too-long",
            element,
            f"表达式过长 Expression in {element!r} is {len(text)} characters long; at most {MAX_EXPRESSION}",
        )
        return
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
        findings.error(
            "expression-syntax",
            element,
            f"表达式语法错误 Invalid Python expression in {element!r}: {exc.msg}: {text.strip()[:200]!r}{hint}",
        )
    except CodeRefused as exc:
        findings.error(
            "expression-refused",
            element,
            f"表达式含有不允许的代码 The code in {element!r} is not allowed in a diagram: {exc}",
        )
    except (ValueError, MemoryError, RecursionError):
        findings.error(
            "expression-too-complex", element, f"表达式无法解析 Expression in {element!r} is too complex to parse{hint}"
        )
