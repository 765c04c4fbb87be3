"""Moving one running workflow onto another version of its diagram, in place: the engine's half of a migration.

SpiffWorkflow ships ``migrate_workflow``, but it resets every ready and waiting task from its parent,
which drops what a multi-instance part holds (each unit's element variable) and refuses nothing; and
a finished task whose element the new version removed would leave a state that no longer loads. So
the product walks the task tree itself:

- every task whose element the new version has (same id, or the one the designer mapped it to) is
  pointed at the new version's element and keeps its state and data, live or finished;
- a finished task whose element is gone is cut out of the tree, its children hung on its parent (its
  data already flowed on to them, and the product's history keeps the record of it);
- a waiting event whose element is gone (a deadline timer the new version drops) stops waiting, and so
  does an event sub-process that has not started (a deadline watch the new version drops);
- a live task of any other kind whose element is gone, a live task whose element changes kind, and a
  failed step whose element is gone block the move: the workflow is left as it was;
- what the tree predicted of the future is predicted again from the new version, and the waiting
  timers evaluate the new version's expressions afresh; a step that the new version adds as a
  boundary event of a waiting step is armed, and an event sub-process it adds is started;
- a process a call activity called runs on as it is, on the version it was called in: only its call
  activity moves (blocked, as any live step, when the new version lacks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import EventSubprocess
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import event_subprocesses
from engine.bpmn.calls import called_id

_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
# A live task's children that the library has only foreseen: the path it expects, not steps reached.
_FORESEEN = TaskState.PREDICTED_MASK | TaskState.FUTURE
# Specs the parser derives from an element, named after it: "rectify.BoundaryEventSplit", "units [child]".
_DERIVED = (".", " [")
# Live tasks that only hold the steps a migration reports: a boundary split, an event sub-process (its start event).
_CONTAINERS = (BoundaryEventSplit, EventSubprocess)


@dataclass(frozen=True)
class Blocker:
    """Why a workflow cannot move: the element at fault and what to do, in Chinese and English."""

    element: str
    message: str


@dataclass
class Outcome:
    """What moving one workflow does (or would do): the live steps and where they go, and what blocks it."""

    # (from element, to element) for each live step of a person or an event, in tree order.
    moved: list[tuple[str, str]] = field(default_factory=list)
    # Waiting events (timers) the new version no longer has.
    dropped: list[str] = field(default_factory=list)
    # Boundary events the new version adds to a waiting step, and event sub-processes it adds: armed by the move.
    armed: list[str] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)
    # The definition ids of the called processes running inside: they stay on their version.
    called: list[int] = field(default_factory=list)


def _element(spec: TaskSpec) -> str:
    return str(getattr(spec, "bpmn_id", None) or spec.name)


def _target_name(name: str, mapping: dict[str, str]) -> str:
    """The new version's spec name for an old one: mapped by element id, derived specs following their element."""
    if name in mapping:
        return mapping[name]
    for old, new in mapping.items():
        for joint in _DERIVED:
            if name.startswith(old + joint):
                return new + name[len(old) :]
    return name


def _is_event(task: SpiffTask) -> bool:
    return getattr(task.task_spec, "event_definition", None) is not None


def _waiting_event(task: SpiffTask) -> bool:
    return task.has_state(TaskState.WAITING) and _is_event(task)


Part = tuple[Any, Any]  # a (sub)workflow and the new version's spec for it


def _parts(workflow: BpmnWorkflow, target: Any, subprocess_specs: dict[str, Any], outcome: Outcome) -> list[Part]:
    """The workflow and each running (sub-)process in it, with its spec in the new version.

    A process a call activity called stays as it is, on the version it was called in (``engine.bpmn.calls``).
    """
    parts: list[Part] = [(workflow, target)]
    for sub in workflow.subprocesses.values():
        called = called_id(str(sub.spec.name))
        if called is not None:
            if called not in outcome.called:
                outcome.called.append(called)
            continue
        spec = subprocess_specs.get(sub.spec.name)
        if spec is None and event_subprocesses.is_idle_watch(workflow.get_task_from_id(sub.parent_task_id)):
            continue  # a watch the new version drops: it stops with its sub-workflow (``_plan_part``)
        if spec is None:
            outcome.blockers.append(
                Blocker(
                    sub.spec.name,
                    f"运行中的子流程 {sub.spec.name!r} 在新版本中不存在 "
                    f"The running sub-process {sub.spec.name!r} is not in the new version",
                )
            )
        else:
            parts.append((sub, spec))
    return parts


def plan(parts: list[Part], mapping: dict[str, str], outcome: Outcome) -> dict[SpiffTask, TaskSpec]:
    """What moving the ``parts`` onto their new specs does (into ``outcome``), and the new spec of each task that
    keeps one."""
    aligned: dict[SpiffTask, TaskSpec] = {}
    for part, spec in parts:
        _plan_part(part, spec, mapping, outcome, aligned)
    outcome.armed = [_element(spec) for task, spec in _splits_gaining(aligned) for spec in _new_boundaries(task, spec)]
    return aligned


def _plan_part(
    workflow: Any, target: Any, mapping: dict[str, str], outcome: Outcome, aligned: dict[SpiffTask, TaskSpec]
) -> None:
    for task in workflow.get_tasks(skip_subprocesses=True):
        if task.has_state(_FORESEEN) and task.parent is not None and task.parent.has_state(_LIVE | _FORESEEN):
            continue
        new = target.task_specs.get(_target_name(task.task_spec.name, mapping))
        element = _element(task.task_spec)
        live = task.has_state(_LIVE)
        if new is not None:
            aligned[task] = new
            if live and type(new) is not type(task.task_spec):
                outcome.blockers.append(
                    Blocker(
                        element,
                        f"步骤 {element!r} 在新版本中类型改变（{type(new).__name__}），请映射到同类步骤 "
                        f"The step {element!r} becomes a {type(new).__name__} in the new version: map it to a step of "
                        "its kind",
                    )
                )
            elif live and task.task_spec.bpmn_id is not None and not isinstance(task.task_spec, _CONTAINERS):
                outcome.moved.append((element, _element(new)))
        elif task.has_state(TaskState.ERROR):
            outcome.blockers.append(
                Blocker(
                    element,
                    f"失败的步骤 {element!r} 在新版本中已删除：请先处理其故障 "
                    f"The failed step {element!r} is not in the new version: resolve its incident first",
                )
            )
        elif live and (_waiting_event(task) or event_subprocesses.is_idle_watch(task)):
            outcome.dropped.append(element)
        elif live:
            outcome.blockers.append(
                Blocker(
                    element,
                    f"步骤 {element!r} 在新版本中不存在，请为其指定映射 "
                    f"The step {element!r} is not in the new version: map it to one of the new version's steps",
                )
            )


def _splits_gaining(aligned: dict[SpiffTask, TaskSpec]) -> list[tuple[SpiffTask, TaskSpec]]:
    """The finished boundary splits of live steps, with their new spec: where a new boundary event would attach."""
    return [
        (task, spec)
        for task, spec in aligned.items()
        if isinstance(spec, BoundaryEventSplit)
        and task.has_state(TaskState.COMPLETED)
        and any(child.has_state(_LIVE) and not _is_event(child) for child in task.children)
    ]


def _new_boundaries(task: SpiffTask, spec: TaskSpec) -> list[TaskSpec]:
    held = {_element(child.task_spec) for child in task.children}
    return [output for output in spec.outputs if _is_event_spec(output) and _element(output) not in held]


def _is_event_spec(spec: TaskSpec) -> bool:
    return getattr(spec, "event_definition", None) is not None


def migrate(workflow: BpmnWorkflow, target: Any, subprocess_specs: dict[str, Any], mapping: dict[str, str]) -> Outcome:
    """Move ``workflow`` onto ``target`` in place, unless something blocks it (then it is left untouched)."""
    outcome = Outcome()
    parts = _parts(workflow, target, subprocess_specs, outcome)
    aligned = plan(parts, mapping, outcome)
    if outcome.blockers:
        return outcome
    splits = _splits_gaining(aligned)
    for part, spec in parts:
        _repoint(part, aligned)
        part.spec = spec
    kept = {name: spec for name, spec in workflow.subprocess_specs.items() if called_id(name) is not None}
    workflow.subprocess_specs = {**subprocess_specs, **kept}
    for task, spec in splits:
        for boundary in _new_boundaries(task, spec):
            boundary._update(task._add_child(boundary, TaskState.FUTURE))
    for part, _spec in parts:
        _foresee_again(part)
    outcome.armed += event_subprocesses.start_missing(workflow)
    return outcome


def _repoint(part: Any, aligned: dict[SpiffTask, TaskSpec]) -> None:
    """Each task to its new spec; a waiting event the new version lacks stops, a finished task it lacks is cut out."""
    _drop_predicted(part)
    for task in list(part.get_tasks(skip_subprocesses=True)):
        new = aligned.get(task)
        if new is not None:
            task.task_spec = new
        elif event_subprocesses.is_idle_watch(task):
            event_subprocesses.stop(part.top_workflow, task)
            part._remove_task(task.id)
        elif task.has_state(TaskState.WAITING):
            _stop_waiting(part, task)
        elif task.id in part.tasks:
            _cut_out(part, task)
    if part.last_task is not None and part.last_task.id not in part.tasks:
        part.last_task = None


def _foresee_again(part: Any) -> None:
    for task in list(part.get_tasks(skip_subprocesses=True, state=_LIVE)):
        if _timer(task):
            # The new version's expression is evaluated afresh at the next refresh.
            task.internal_data.pop("event_value", None)
        _predict_again(task)


def _timer(task: SpiffTask) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _predict_again(task: SpiffTask) -> None:
    """Predict a live task's future from its new spec, the way the library predicts it."""
    if any(not child.has_state(_FORESEEN) for child in task.children):
        # A multi-instance task's parts are its children too: only the outputs it lacks are added.
        held = {child.task_spec for child in task.children}
        for spec in task.task_spec.outputs:
            if spec not in held:
                spec._predict(task._add_child(spec, TaskState.FUTURE), mask=_FORESEEN)
    elif _is_event(task):
        # What follows an event that may never come is only a maybe (the library's own prediction).
        task._sync_children(task.task_spec.outputs, TaskState.MAYBE)
        for child in task.children:
            child.task_spec._predict(child)
    else:
        task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)


def _drop_predicted(workflow: Any) -> None:
    """Drop what the tree foresees after its live tasks: it is foreseen again from the new version."""
    for task in list(workflow.get_tasks(skip_subprocesses=True, state=_FORESEEN)):
        parent = task.parent
        if task.id in workflow.tasks and parent is not None and parent.has_state(_LIVE):
            workflow._remove_task(task.id)


def _stop_waiting(workflow: Any, task: SpiffTask) -> None:
    workflow.top_workflow.event_manager.remove_task(task)
    workflow._remove_task(task.id)


def _cut_out(workflow: Any, task: SpiffTask) -> None:
    """Remove a finished task from the tree, its children taking its place under its parent.

    Never the root: every version's tree starts with the library's own start task, which always aligns.
    """
    parent = task.parent
    for child in task.children:
        child._parent = parent.id
    at = parent._children.index(task.id) + 1
    parent._children[at:at] = task._children
    task._children = []
    workflow._remove_task(task.id)
