"""Reading and evaluating DMN tables: entries as Python tests of the input, hit policies, refusals by element."""

from __future__ import annotations

from typing import Any

import pytest

from engine.bpmn import dmn
from engine.bpmn.builder import script_engine
from engine.bpmn.bundle import from_folder
from engine.bpmn.business_rules import sandboxed
from engine.store.errors import InvalidDiagram
from tests.conftest import PROCESSES

RUN = sandboxed(script_engine())
EXAMPLES = PROCESSES / "examples"
EXAMPLE = from_folder(EXAMPLES / "decision_table.bpmn", EXAMPLES / "forms")
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def table(rules: str, hit_policy: str = "UNIQUE", key: str = "days_rule", inputs: str = "") -> bytes:
    """A DMN file of one decision: input ``severity``, output ``days``; ``rules`` as (severity entry, days) rows."""
    columns = inputs or (
        '<input id="in_severity" label="Severity"><inputExpression id="ie" typeRef="string">'
        "<text>severity</text></inputExpression></input>"
    )
    return (
        f'<definitions xmlns="{DMN_NS}" id="d" name="d" namespace="x"><decision id="{key}" name="Days">'
        f'<decisionTable id="t" hitPolicy="{hit_policy}">{columns}'
        f'<output id="out_days" label="Days" name="days" typeRef="integer"/>{rules}</decisionTable></decision>'
        "</definitions>"
    ).encode()


def rule(rule_id: str, entry: str, days: str) -> str:
    return (
        f'<rule id="{rule_id}"><inputEntry id="{rule_id}_in"><text>{entry}</text></inputEntry>'
        f'<outputEntry id="{rule_id}_out"><text>{days}</text></outputEntry></rule>'
    )


@pytest.mark.parametrize(
    ("entry", "test"),
    [
        ('"high"', 'cellInput == ("high")'),
        ("> 5", "cellInput > 5"),
        ('in ("a", "b")', 'cellInput in ("a", "b")'),
        ('"a", "b"', 'cellInput in ("a", "b")'),
        ("1 <= ? < 5", "1 <= cellInput < 5"),
        ('? == "why?"', 'cellInput == "why?"'),
        ("cellInput % 2 == 0", "cellInput % 2 == 0"),
    ],
)
def test_an_input_entry_becomes_a_test_of_the_input(entry: str, test: str) -> None:
    assert dmn.cell_test(entry) == test


def evaluate(content: bytes, **data: Any) -> dmn.Evaluation:
    (found,) = [t for t in dmn.parse(content) if t.key == "days_rule"]
    return dmn.evaluate(found, data, RUN)


def test_hit_policies_choose_among_the_matching_rules() -> None:
    rows = rule("any", "-", "1") + rule("big", "> 10", "2") + rule("odd", "? % 2 == 1", "3")
    assert evaluate(table(rows, "FIRST"), severity=11).outputs == {"days": 1}
    collected = evaluate(table(rows, "COLLECT"), severity=11)
    assert (collected.matched, collected.outputs) == (["any", "big", "odd"], [{"days": 1}, {"days": 2}, {"days": 3}])
    several = evaluate(table(rows, "UNIQUE"), severity=11)
    assert (several.outputs, several.matched) == (None, ["any", "big", "odd"])
    assert several.problem is not None and "UNIQUE" in several.problem
    assert evaluate(table(rule("big", "> 10", "2")), severity=1).problem is not None
    assert evaluate(table(rule("big", "> 10", "2"), "COLLECT"), severity=1).outputs == []


def test_a_failing_expression_names_its_rule() -> None:
    with pytest.raises(dmn.DecisionFailed, match=r"rule 'big'.*TypeError"):
        evaluate(table(rule("big", "> 10", "2")), severity="text")
    with pytest.raises(dmn.DecisionFailed, match=r"input 'in_severity'.*NameError"):
        evaluate(table(rule("big", "> 10", "2")))


def refusal(content: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InvalidDiagram) as refused:
        dmn.parse(content)
    return [(error["element"], error["code"]) for error in refused.value.errors]


def test_what_cannot_be_used_is_refused_naming_the_element() -> None:
    assert refusal(b"<definitions/>") == [("", "dmn-invalid")]
    assert refusal(b'<!DOCTYPE x [<!ENTITY e "e">]><definitions/>') == [("", "dmn-invalid")]
    assert refusal(table(rule("r", '"x"', "1"), hit_policy="ANY")) == [("days_rule", "dmn-hit-policy")]
    collect_sum = table(rule("r", '"x"', "1"), "COLLECT").replace(
        b'hitPolicy="COLLECT"', b'hitPolicy="COLLECT" aggregation="SUM"'
    )
    assert refusal(collect_sum) == [("days_rule", "dmn-hit-policy")]
    assert refusal(table(rule("r", "().__class__.__bases__", "1"))) == [("r", "dmn-expression")]
    assert refusal(table(rule("r", '"x"', "__import__('os').system('id')"))) == [("r", "dmn-expression")]
    unnamed = table(rule("r", '"x"', "1")).replace(b'name="days"', b'name="x.y"')
    assert refusal(unnamed) == [("out_days", "dmn-output")]
    assert refusal(table(rule("r", '"x"', "1") * 5_001)) == [("days_rule", "dmn-size")]
    short = table('<rule id="r"><inputEntry id="i"><text>"x"</text></inputEntry></rule>')
    assert refusal(short) == [("r", "dmn-rule")]


def test_the_example_holds_two_decisions() -> None:
    tables = dmn.parse(EXAMPLE.decisions["decision_table.dmn"])
    assert [(t.key, t.hit_policy, len(t.rules)) for t in tables] == [
        ("example_deadline", "UNIQUE", 4),
        ("notify_rule", "COLLECT", 3),
    ]
