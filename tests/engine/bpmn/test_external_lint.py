"""External service tasks in a diagram: what deploys, and what the lint refuses, naming the task."""

from __future__ import annotations

import pytest

from engine.bpmn import deploy
from engine.bpmn.bundle import from_folder
from engine.bpmn.lint import lint
from engine.store.config import REPO_ROOT

EXAMPLES = REPO_ROOT / "processes" / "examples"
EXAMPLE = from_folder(EXAMPLES / "external_task.bpmn", EXAMPLES / "forms")
TASK = b'camunda:type="external" camunda:topic="geocode"'


def test_the_example_lints_clean_and_its_task_keeps_its_topic() -> None:
    assert lint(EXAMPLE.diagram, EXAMPLE.forms) == []
    built = deploy.build(EXAMPLE)
    assert built.model["external"] == {"locate": {"title": "地址定位 Locate the address", "topic": "geocode"}}


@pytest.mark.parametrize(
    ("attributes", "code", "words"),
    [
        (b"", "unsupported-element", 'Only external service tasks are supported: set camunda:type="external"'),
        (b'camunda:type="connector" camunda:topic="geocode"', "unsupported-element", "Only external service tasks"),
        (b'camunda:type="external"', "topic-missing", "has no camunda:topic"),
        (b'camunda:type="external" camunda:topic="  "', "topic-missing", "has no camunda:topic"),
        (b'camunda:type="external" camunda:topic="' + b"t" * 201 + b'"', "too-long", "at most 200"),
    ],
    ids=["no type", "another type", "no topic", "blank topic", "long topic"],
)
def test_a_service_task_no_worker_could_fetch_is_refused(attributes: bytes, code: str, words: str) -> None:
    (problem,) = lint(EXAMPLE.diagram.replace(TASK, attributes), EXAMPLE.forms)
    assert (problem.element, problem.code) == ("locate", code)
    assert words in problem.message


def test_a_multi_instance_service_task_is_refused() -> None:
    looped = EXAMPLE.diagram.replace(
        b"<bpmn:outgoing>flow_to_end</bpmn:outgoing>",
        b"<bpmn:outgoing>flow_to_end</bpmn:outgoing>"
        b'<bpmn:multiInstanceLoopCharacteristics camunda:collection="units" />',
    )
    (problem,) = lint(looped, EXAMPLE.forms)
    assert (problem.element, problem.code) == ("locate", "unsupported-element")
    assert "cannot be multi-instance" in problem.message
