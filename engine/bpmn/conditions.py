"""What the conditions of sequence flows read, checked against what the forms before them write.

Best effort, by reading the Python (``ast``) without running it: a name no form, script or item sets
is only a warning (a script may set it in ways not seen here); a gateway without a default flow is an
error only when its conditions are certainly all false for one value of a form's choice (``enum``).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Hashable, Iterator, Mapping
from typing import Any

from lxml import etree

from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS
from engine.bpmn.findings import Findings
from engine.bpmn.flow_graph import FlowGraph, reach

# Set by engine.items.workflow on every item; days_before is the timers' helper (engine.bpmn.builder).
ITEM_VARIABLES = frozenset({"department", "units", "deadline_end", "category", "severity", "owner", "days_before"})
_BUILTINS = frozenset(dir(builtins))
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


def _parsed(text: str) -> ast.Expression | None:
    try:
        return ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # reported by the model's compile check
        return None


def _stored(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def _read_names(tree: ast.AST) -> set[str]:
    bound = _stored(tree)  # a comprehension's own variables
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)} - bound


def _script_names(process: etree._Element) -> set[str]:
    """Every name a script of the process assigns, wherever it stands (a script may run before any condition)."""
    names: set[str] = set()
    for script in process.iter(f"{{{BPMN_NS}}}script"):
        try:
            tree = ast.parse(script.text or "", mode="exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        names.update(_stored(tree))
    return names


def _loop_variables(process: etree._Element) -> set[str]:
    return {
        str(name)
        for name in process.xpath(".//bpmn:multiInstanceLoopCharacteristics/@camunda:elementVariable", namespaces=_NS)
    }


def _upstream_forms(element: str, backwards: FlowGraph, forms: Mapping[str, dict[str, Any] | None]) -> list[Any]:
    """The forms of the user tasks from which ``element`` can be reached (``backwards``: the graph reversed)."""
    return [form for task in reach(backwards, [element]) if (form := forms.get(task)) is not None]


def _fields(forms: list[dict[str, Any]]) -> dict[str, set[Any] | None]:
    """Each field of the forms and the values its choice allows (None: any value)."""
    found: dict[str, set[Any] | None] = {}
    for form in forms:
        for name, schema in (form.get("properties") or {}).items():
            enum = schema.get("enum") if isinstance(schema, dict) else None
            if isinstance(enum, list) and (name not in found or found[name] is not None):
                found[name] = (found.get(name) or set()) | {value for value in enum if isinstance(value, Hashable)}
            else:
                found[name] = None
    return found


def _holds(node: ast.AST, name: str, value: Any) -> bool | None:
    """Whether the condition holds when ``name`` is ``value``: True, False, or None when it cannot be told."""
    if isinstance(node, ast.BoolOp):
        results = [_holds(operand, name, value) for operand in node.values]
        decisive = isinstance(node.op, ast.Or)  # True decides an ``or``, False an ``and``
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _holds(node.operand, name, value)
        return None if inner is None else not inner
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right, op = node.left, node.comparators[0], node.ops[0]
        if isinstance(right, ast.Name) and isinstance(op, ast.Eq | ast.NotEq):
            left, right = right, left
        if not (isinstance(left, ast.Name) and left.id == name):
            return None
        try:
            literal = ast.literal_eval(right)
        except ValueError:
            return None
        if isinstance(op, ast.Eq | ast.NotEq):
            return (value == literal) == isinstance(op, ast.Eq)
        if isinstance(op, ast.In | ast.NotIn) and isinstance(literal, list | tuple | set | frozenset):
            return (value in literal) == isinstance(op, ast.In)
    return None


def _compared(tree: ast.AST) -> set[str]:
    return {
        node.left.id for node in ast.walk(tree) if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name)
    } | {
        side.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for side in node.comparators
        if isinstance(side, ast.Name)
    }


def _outgoing(graph: FlowGraph, gateway: str) -> Iterator[etree._Element]:
    return (flow for flow in graph.flows if flow.get("sourceRef") == gateway)


def _condition(flow: etree._Element) -> ast.Expression | None:
    found = flow.find(f"{{{BPMN_NS}}}conditionExpression")
    return _parsed(found.text) if found is not None and found.text else None


def _check_gateway(
    gateway: etree._Element, graph: FlowGraph, fields: dict[str, set[Any] | None], findings: Findings
) -> None:
    element = gateway.get("id", "")
    conditions = [_condition(flow) for flow in _outgoing(graph, element)]
    if gateway.get("default") or not conditions or None in conditions:
        return  # a default covers every case; a flow without a (readable) condition is the parser's to refuse
    trees = [tree for tree in conditions if tree is not None]
    for name in sorted(set().union(*(_compared(tree) for tree in trees))):
        values = fields.get(name)
        uncovered = [
            value
            for value in sorted(values or (), key=repr)
            if all(_holds(tree.body, name, value) is False for tree in trees)
        ]
        if uncovered:
            missing = ", ".join(repr(value) for value in uncovered)
            findings.error(
                "gateway-uncovered",
                element,
                f"排他网关未覆盖所有选项 Exclusive gateway {element!r} has no default flow and no condition holds "
                f"when {name} is {missing}: add a condition for it or a default flow",
            )


def check_conditions(
    process: etree._Element,
    graph: FlowGraph,
    forms: Mapping[str, dict[str, Any] | None],
    findings: Findings,
    decided: Collection[str] = (),
) -> None:
    """``forms``: each user task's form (``None`` without one); ``decided``: the variables business rule tasks set.
    Unknown names warn; uncovered choices are errors."""
    assigned = ITEM_VARIABLES | _BUILTINS | _script_names(process) | _loop_variables(process) | set(decided)
    backwards = FlowGraph(following=graph.preceding())
    for flow in graph.flows:
        tree = _condition(flow)
        if tree is None:
            continue
        element = flow.get("id", "")
        fields = _fields(_upstream_forms(flow.get("sourceRef", ""), backwards, forms))
        unknown = sorted(_read_names(tree) - assigned - set(fields))
        if unknown:
            findings.warning(
                "variable-unknown",
                element,
                f"条件中的变量可能不存在 The condition of {element!r} reads {', '.join(unknown)}, which no form "
                "before it, no script and no item variable sets",
            )
    for gateway in process.iter(f"{{{BPMN_NS}}}exclusiveGateway"):
        fields = _fields(_upstream_forms(gateway.get("id", ""), backwards, forms))
        _check_gateway(gateway, graph, fields, findings)
