"""Event sub-processes in a diagram: the bundled deadline watches deploy; an interrupting one is refused by name."""

from __future__ import annotations

import pytest

from engine.bpmn.bundle import from_folder
from engine.bpmn.lint import lint
from engine.store.config import REPO_ROOT

PROCESSES = REPO_ROOT / "processes"


@pytest.mark.parametrize("diagram", ["rectification_item.bpmn", "joint_task.bpmn"])
def test_the_bundled_deadline_watches_lint_clean(diagram: str) -> None:
    bundle = from_folder(PROCESSES / diagram, PROCESSES / "forms")
    assert lint(bundle.diagram, bundle.forms, bundle.decisions) == []


@pytest.mark.parametrize("interrupting", [b' isInterrupting="true"', b""], ids=["said", "by default"])
def test_an_interrupting_event_sub_process_is_refused_naming_its_start_event(interrupting: bytes) -> None:
    bundle = from_folder(PROCESSES / "rectification_item.bpmn", PROCESSES / "forms")
    start = b'<bpmn:startEvent id="deadline_warning" name="\xe9\xa2\x84\xe8\xad\xa6 Warning"'
    assert bundle.diagram.count(start + b' isInterrupting="false"') == 1
    changed = bundle.diagram.replace(start + b' isInterrupting="false"', start + interrupting)
    (problem,) = lint(changed, bundle.forms, bundle.decisions)
    assert (problem.element, problem.code, problem.severity) == ("deadline_warning", "unsupported-element", "error")
    assert 'set isInterrupting="false"' in problem.message
