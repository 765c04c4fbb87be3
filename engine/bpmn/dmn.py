"""DMN decision tables: an untrusted ``.dmn`` read into tables, checked, and evaluated in the sandbox.

A table's expressions are Python, like every expression of a diagram, and run in the same sandbox
(``engine.bpmn.jail``): an input expression is evaluated once over the data; an input entry is a
value (``"high"``, compared for equality), a comparison missing its left side (``> 5``,
``in ("a", "b")``), several values (``"a", "b"``: any of them), or an expression over the input
written as ``?`` or ``cellInput`` (``1 <= ? < 5``); ``-`` or nothing matches anything. An output entry is
an expression. Hit policies: UNIQUE (exactly one rule matches), FIRST (the first that matches) and
COLLECT (every match, without aggregation); SpiffWorkflow's DMNEngine knows only UNIQUE and COLLECT,
and its UNIQUE takes the first match without noticing a second, so evaluation is ours.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.bpmn.findings import Findings, refusal
from engine.bpmn.safe_xml import read_xml
from engine.bpmn.sandbox import CodeRefused, compile_code
from engine.store.errors import InvalidDiagram
from engine.store.models import Decision

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
    }
)
HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
# Sized for what a person maintains in a table editor; far beyond them it is data, not a rule.
MAX_DECISIONS = 50
MAX_COLUMNS = 50
MAX_RULES = 1_000
# Entries of one table: each is compiled at deploy and may be one sandbox round trip (~0.1 ms) per evaluation.
MAX_CELLS = 10_000
MAX_EXPRESSION = 10_000
MAX_KEY = int(Decision.__table__.c.key.type.length)  # type: ignore[attr-defined]
MAX_NAME = int(Decision.__table__.c.name.type.length)  # type: ignore[attr-defined]
_KEY = re.compile(r"[^\W\d][\w.-]*\Z")
_NAME = re.compile(r"[^\W\d_]\w*\Z")
# The input inside an input entry: SpiffWorkflow writes ``?``, Camunda's FEEL ``cellInput``.
CELL = "cellInput"
_QUESTION = re.compile(r"\?(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*\Z)")  # a ``?`` outside quotes


@dataclass(frozen=True)
class Input:
    id: str
    label: str
    expression: str
    type: str


@dataclass(frozen=True)
class Output:
    id: str
    label: str
    name: str
    type: str


@dataclass(frozen=True)
class Rule:
    id: str
    tests: tuple[str | None, ...]  # per input: the Python test of ``cellInput`` (None: any value)
    outputs: tuple[str | None, ...]  # per output: its expression (None: no value)


@dataclass(frozen=True)
class Table:
    """One decision: its decision table, with each input entry rewritten as a test of ``cellInput``."""

    key: str
    name: str
    hit_policy: str
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Evaluation:
    """What a table gave for some data: the values its inputs read, the rules that matched, and the outputs.

    ``outputs`` is one object for UNIQUE and FIRST (None when the table gave no single answer: ``problem``
    says why) and a list of them, one per matched rule, for COLLECT.
    """

    table: Table
    inputs: dict[str, Any]
    matched: list[str]
    outputs: dict[str, Any] | list[dict[str, Any]] | None
    problem: str | None = None


class DecisionFailed(Exception):
    """An evaluation that failed (an expression raised in the sandbox); the message names the element."""


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _children(node: etree._Element, namespace: str, tag: str) -> list[etree._Element]:
    return list(node.iterchildren(f"{{{namespace}}}{tag}"))


def _text(node: etree._Element, namespace: str) -> str | None:
    found = _children(node, namespace, "text")
    text = (found[0].text or "").strip() if found else ""
    return text or None


def _check_code(text: str, element: str, what: str, findings: Findings) -> bool:
    if len(text) > MAX_EXPRESSION:
        findings.error(
            "dmn-expression", element, f"表达式过长 The {what} of {element!r} is over {MAX_EXPRESSION} characters"
        )
        return False
    try:
        compile(text, element, "eval")
        compile_code(text, "eval")  # what it runs as: the sandbox refuses imports, '_' names, open, ...
    except SyntaxError as exc:
        hint = " ([1..5] and other FEEL are not Python: write 1 <= ? <= 5)" if ".." in text else ""
        findings.error(
            "dmn-expression",
            element,
            f"表达式语法错误 Invalid Python in the {what} of {element!r}: {exc.msg}: {text[:200]!r}{hint}",
        )
        return False
    except CodeRefused as exc:
        findings.error(
            "dmn-expression", element, f"表达式含有不允许的代码 The {what} of {element!r} is not allowed: {exc}"
        )
        return False
    except (ValueError, MemoryError, RecursionError):
        findings.error("dmn-expression", element, f"表达式无法解析 The {what} of {element!r} is too complex to parse")
        return False
    return True


def cell_test(entry: str) -> str:
    """An input entry as a Python test of ``cellInput`` (``"high"`` → ``cellInput == ("high")``)."""
    if _QUESTION.search(entry):
        return _QUESTION.sub(CELL, entry)
    if re.search(rf"\b{CELL}\b", entry):
        return entry
    try:
        tree = ast.parse(entry.strip(), mode="eval")
    except SyntaxError:
        return f"{CELL} {entry.strip()}"  # ``> 5``, ``in (1, 2)``, ``not in ...``: the input is the left side
    except (ValueError, MemoryError, RecursionError):
        return entry  # refused by the compile check, naming the entry
    if isinstance(tree.body, ast.Tuple):
        return f"{CELL} in ({entry})"  # FEEL's "a","b": any of them
    return f"{CELL} == ({entry})"


def _read_inputs(table: etree._Element, ns: str, findings: Findings) -> list[Input]:
    inputs = []
    for node in _children(table, ns, "input"):
        element = node.get("id", "")
        expression_node = _children(node, ns, "inputExpression")
        expression = _text(expression_node[0], ns) if expression_node else None
        label = node.get("label") or ""
        if expression is None:
            findings.error("dmn-input", element, f"输入缺少表达式 Input {element!r} ({label}) has no input expression")
        elif _check_code(expression, element, "input expression", findings):
            type_ref = expression_node[0].get("typeRef") or ""
            inputs.append(Input(element, label, expression, type_ref))
    return inputs


def _read_outputs(table: etree._Element, ns: str, findings: Findings) -> list[Output]:
    outputs = []
    for node in _children(table, ns, "output"):
        element, name = node.get("id", ""), (node.get("name") or "").strip()
        if not _NAME.match(name) or name == CELL:
            findings.error(
                "dmn-output",
                element,
                f"输出名称无效 Output {element!r} needs a name that is a variable name (letters, digits, '_', "
                f"not first): it is the variable the result goes to (got {name!r})",
            )
            continue
        outputs.append(Output(element, node.get("label") or "", name, node.get("typeRef") or ""))
    if len({output.name for output in outputs}) != len(outputs):
        findings.error(
            "dmn-output", table.get("id", ""), f"输出名称重复 Two outputs of {table.get('id', '')!r} share a name"
        )
    return outputs


def _read_rule(node: etree._Element, ns: str, widths: tuple[int, int], findings: Findings) -> Rule | None:
    element = node.get("id", "")
    entries = _children(node, ns, "inputEntry")
    results = _children(node, ns, "outputEntry")
    if (len(entries), len(results)) != widths:
        findings.error(
            "dmn-rule",
            element,
            f"规则的列数不符 Rule {element!r} has {len(entries)} input and {len(results)} output entries; "
            f"the table has {widths[0]} inputs and {widths[1]} outputs",
        )
        return None
    tests: list[str | None] = []
    for entry in entries:
        text = _text(entry, ns)
        test = None if text in (None, "-") else cell_test(text)
        if test is not None and not _check_code(test, element, f"input entry {entry.get('id', '')!r}", findings):
            return None
        tests.append(test)
    outputs = [_text(entry, ns) for entry in results]
    for entry, text in zip(results, outputs, strict=True):
        if text is not None and not _check_code(text, element, f"output entry {entry.get('id', '')!r}", findings):
            return None
    return Rule(element, tuple(tests), tuple(outputs))


def _read_table(decision: etree._Element, ns: str, findings: Findings) -> Table | None:
    key = decision.get("id", "")
    name = (decision.get("name") or key).strip() or key
    if not _KEY.match(key) or len(key) > MAX_KEY or len(name) > MAX_NAME:
        findings.error(
            "dmn-decision",
            key,
            f"决策 id 无效 The decision id {key!r} cannot be a decision key: it starts with a letter or '_', holds "
            f"letters, digits, '_', '-' and '.', at most {MAX_KEY} characters (its name at most {MAX_NAME})",
        )
        return None
    tables = _children(decision, ns, "decisionTable")
    if len(tables) != 1:
        findings.error(
            "dmn-no-table",
            key,
            f"决策须恰有一个决策表 Decision {key!r} must hold exactly one decision table (literal expressions, "
            "decision requirements and other decision logic are not supported)",
        )
        return None
    table = tables[0]
    hit_policy = (table.get("hitPolicy") or "UNIQUE").strip().upper()
    if hit_policy not in HIT_POLICIES or table.get("aggregation"):
        policy = hit_policy + (f" {table.get('aggregation')}" if table.get("aggregation") else "")
        findings.error(
            "dmn-hit-policy",
            key,
            f"不支持的命中策略 Decision {key!r} has hit policy {policy}; supported: {', '.join(HIT_POLICIES)} "
            "(COLLECT without aggregation)",
        )
        return None
    rules_found = _children(table, ns, "rule")
    widths = (len(_children(table, ns, "input")), len(_children(table, ns, "output")))
    cells = len(rules_found) * sum(widths)
    if not widths[1] or max(widths) > MAX_COLUMNS or len(rules_found) > MAX_RULES or cells > MAX_CELLS:
        findings.error(
            "dmn-size",
            key,
            f"决策表大小不符 Decision {key!r} has {widths[0]} inputs, {widths[1]} outputs and "
            f"{len(rules_found)} rules: at least one output, at most {MAX_COLUMNS} columns, {MAX_RULES} rules "
            f"and {MAX_CELLS:,} entries",
        )
        return None
    inputs, outputs = _read_inputs(table, ns, findings), _read_outputs(table, ns, findings)
    rules = [_read_rule(rule, ns, widths, findings) for rule in rules_found]
    if findings.has_errors:
        return None
    return Table(key, name, hit_policy, tuple(inputs), tuple(outputs), tuple(rule for rule in rules if rule))


def read_tables(content: bytes, findings: Findings) -> list[Table]:
    """The decisions of a DMN file; each problem is reported naming its element (decision, input or rule id)."""
    try:
        root = read_xml(content)
    except InvalidDiagram as exc:
        findings.error("dmn-invalid", "", f"DMN 文件无法读取 The DMN file cannot be read: {exc.detail}")
        return []
    ns = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "definitions" or ns not in DMN_NAMESPACES:
        findings.error(
            "dmn-invalid",
            root.get("id", ""),
            f"不是 DMN 文件 Not a DMN 1.1-1.3 document: the root element is {root.tag!r}, "
            "not definitions in a DMN namespace",
        )
        return []
    decisions = _children(root, ns, "decision")
    if not decisions or len(decisions) > MAX_DECISIONS:
        findings.error(
            "dmn-no-table",
            root.get("id", ""),
            f"DMN 文件须有 1 至 {MAX_DECISIONS} 个决策 A DMN file holds 1 to {MAX_DECISIONS} decisions",
        )
        return []
    keys = [decision.get("id", "") for decision in decisions]
    for key in {key for key in keys if keys.count(key) > 1}:
        findings.error("dmn-decision", key, f"决策 id 重复 Two decisions have the id {key!r}")
    tables = []
    for decision in decisions:
        inner = Findings()
        table = _read_table(decision, ns, inner)
        findings.problems.extend(inner.problems)
        if table is not None:
            tables.append(table)
    return tables


def parse(content: bytes) -> list[Table]:
    """The decisions of a DMN file, or ``InvalidDiagram`` with every problem found, each naming its element."""
    findings = Findings()
    tables = read_tables(content, findings)
    if findings.has_errors:
        raise refusal(findings.problems)
    return tables


Evaluate = Callable[[str, dict[str, Any]], Any]


def _rule_tests(rule: Rule) -> Iterator[tuple[int, str]]:
    for index, test in enumerate(rule.tests):
        if test is not None:
            yield index, test


def evaluate(table: Table, data: dict[str, Any], run: Evaluate) -> Evaluation:
    """Evaluate ``table`` over ``data``; ``run(expression, context)`` evaluates one expression in the sandbox.

    Raises ``DecisionFailed`` naming the input or rule whose expression failed.
    """
    values: dict[str, Any] = {}
    for spec in table.inputs:
        try:
            values[spec.id] = run(spec.expression, data)
        except Exception as exc:  # whatever the expression raised, in the sandbox
            raise DecisionFailed(_failure(table, f"input {spec.id!r} ({spec.label})", exc)) from exc
    matched: list[Rule] = []
    columns = list(values.values())
    for rule in table.rules:
        try:
            hit = all(run(test, {**data, CELL: columns[index]}) for index, test in _rule_tests(rule))
        except Exception as exc:
            raise DecisionFailed(_failure(table, f"rule {rule.id!r}", exc)) from exc
        if hit:
            matched.append(rule)
            if table.hit_policy == "FIRST":
                break
    labels = {spec.id: spec.label or spec.expression for spec in table.inputs}
    read = {labels[element]: value for element, value in values.items()}
    ids = [rule.id for rule in matched]
    if table.hit_policy == "COLLECT":
        return Evaluation(table, read, ids, [_outputs(table, rule, data, run) for rule in matched])
    if not matched:
        return Evaluation(table, read, ids, None, f"没有规则匹配 No rule of decision {table.key!r} matches")
    if len(matched) > 1:
        several = ", ".join(repr(rule) for rule in ids)
        problem = f"多条规则匹配 Rules {several} of decision {table.key!r} all match: its hit policy is UNIQUE"
        return Evaluation(table, read, ids, None, problem)
    return Evaluation(table, read, ids, _outputs(table, matched[0], data, run))


def _outputs(table: Table, rule: Rule, data: dict[str, Any], run: Evaluate) -> dict[str, Any]:
    found = {}
    for spec, text in zip(table.outputs, rule.outputs, strict=True):
        try:
            found[spec.name] = None if text is None else run(text, data)
        except Exception as exc:
            raise DecisionFailed(_failure(table, f"output {spec.name!r} of rule {rule.id!r}", exc)) from exc
    return found


def _failure(table: Table, where: str, exc: Exception) -> str:
    return f"决策表出错 Decision {table.key!r}, {where}: {type(exc).__name__}: {exc}"
