"""Event sub-processes (``triggeredByEvent``): how they end with their process and start again.

An event sub-process whose start is a timer watches its whole process: the bundled lifecycles warn
and escalate a deadline this way, once whatever stage the item is at, not again after each reject
round. Two rules of BPMN that SpiffWorkflow lacks are kept here:

- A process is done when its own flow is: an event sub-process still waiting for its start event
  ends with it (the library's end join would wait for the timer, so a closed item would stay open
  until its deadline passed).
- A watch that already fired starts again when the variable its timer reads changes: a granted
  extension is a new deadline, warned of and escalated once more.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import EventSubprocess
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnSubWorkflow, BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskIterator, TaskState


def _workflows(workflow: BpmnWorkflow) -> list[BpmnWorkflow | BpmnSubWorkflow]:
    return [workflow, *workflow.subprocesses.values()]


def _watches(flow: BpmnWorkflow | BpmnSubWorkflow, state: TaskState) -> Iterator[SpiffTask]:
    for task in TaskIterator(flow.task_tree, state=state):
        if isinstance(task.task_spec, EventSubprocess):
            yield task


def _start_events(workflow: BpmnWorkflow, watch: SpiffTask) -> list[SpiffTask]:
    """The start events of the watch's own sub-workflow (the children of the library's start task, its root)."""
    flow = workflow.get_subprocess(watch)
    if flow is None:
        return []
    return [task for task in flow.task_tree.children if task.task_spec.bpmn_id]


def _not_started(workflow: BpmnWorkflow, watch: SpiffTask) -> bool:
    starts = _start_events(workflow, watch)
    return bool(starts) and all(task.state == TaskState.WAITING for task in starts)


def is_idle_watch(task: SpiffTask) -> bool:
    """An event sub-process waiting for its start event: nothing of it has happened yet."""
    return (
        isinstance(task.task_spec, EventSubprocess)
        and task.state == TaskState.STARTED
        and _not_started(task.workflow.top_workflow, task)
    )


def stop(workflow: BpmnWorkflow, watch: SpiffTask) -> None:
    """Stop an idle watch: its sub-workflow goes, and with it its waiting start event."""
    watch.cancel()
    workflow.delete_subprocess(watch)


def start_missing(workflow: BpmnWorkflow) -> list[str]:
    """Start the event sub-processes a (sub-)process's spec has and its tree lacks (a version that adds one).

    Returns their elements. The root start task leads to them, as the library's parser connects them.
    """
    started = []
    for flow in _workflows(workflow):
        root = flow.task_tree
        held = {child.task_spec for child in root.children}
        for spec in root.task_spec.outputs:
            if isinstance(spec, EventSubprocess) and spec not in held:
                spec._update(root._add_child(spec, TaskState.FUTURE))
                started.append(str(spec.bpmn_id))
    return started


def end_idle(workflow: BpmnWorkflow) -> bool:
    """End the event sub-processes of every (sub-)process whose own flow is done; True when any ended.

    Only watches whose start event still waits end: one that started runs to its end as BPMN says.
    """
    ended = False
    for flow in _workflows(workflow):
        idle = [watch for watch in _watches(flow, TaskState.STARTED) if is_idle_watch(watch)]
        unfinished = TaskIterator(flow.task_tree, state=TaskState.NOT_FINISHED_MASK)
        if not idle or any(_busy(task, idle) for task in unfinished):
            continue
        for watch in idle:
            stop(workflow, watch)
        for task in TaskIterator(flow.task_tree, state=TaskState.WAITING):
            if isinstance(task.task_spec, _EndJoin):
                task.task_spec._update(task)  # it waited for the watches alone: it may finish now
        ended = True
    return ended


def _busy(task: SpiffTask, idle: list[SpiffTask]) -> bool:
    """A task of the process's own flow still to finish (not the end join, nor a watch)."""
    if isinstance(task.task_spec, _EndJoin) or task.task_spec.name == "End":
        return False
    return not any(task is watch or task.is_descendant_of(watch) for watch in idle)


def rearm_reading(workflow: BpmnWorkflow, variable: str) -> None:
    """Start again each finished watch whose timer reads ``variable`` (it takes the new value from its parent)."""
    for flow in _workflows(workflow):
        for watch in list(_watches(flow, TaskState.COMPLETED)):
            if any(_reads(timer, variable) for timer in _timer_starts(watch)):
                workflow.reset_from_task_id(watch.id)


def _timer_starts(watch: SpiffTask) -> Iterator[TimerEventDefinition]:
    spec = watch.workflow.top_workflow.subprocess_specs.get(watch.task_spec.spec)
    if spec is None:
        return
    for start in spec.start.outputs:
        definition = getattr(start, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            yield definition


def _reads(timer: TimerEventDefinition, variable: str) -> bool:
    expression = str(timer.expression or "")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Name) and node.id == variable for node in ast.walk(tree))
