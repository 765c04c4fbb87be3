"""One item's SpiffWorkflow instance: create, restore, advance, compact, store.

The state stored per item holds only what is live: the spec lives once on the process definition,
and a loop that returns to an earlier task (reject → rectify) is compacted back onto that task,
so the task tree and the state stay the same size however many rounds an item goes through.
The finished round's data is in the product's history table before compaction drops it.

One request runs at most ``MAX_ENGINE_STEPS`` engine steps and stores at most ``MAX_STATE_BYTES``
of state: a diagram that loops without a person's task, or piles up data, is stopped, the run is
undone back to its first step, and that step fails as an incident an admin can retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import business_rules, calls, event_subprocesses, people
from engine.bpmn.builder import script_engine, serializer, state_serializer
from engine.bpmn.external import ExternalServiceTask
from engine.store.clock import NEVER
from engine.store.errors import StateTooLarge
from engine.store.models import Instance, ProcessDefinition

# Engine steps (a gateway, a script, an event...) one request may run: the bundled lifecycles take a
# handful; a loop of gateways and scripts with no person's task in it would run forever.
MAX_ENGINE_STEPS = 500
# JSON bytes of one item's stored state (the bundled lifecycle stores about 11 KB, however many rounds).
MAX_STATE_BYTES = 2 * 1024 * 1024
LIVE_STATES = {TaskState.READY: "ready", TaskState.WAITING: "waiting", TaskState.STARTED: "waiting"}
_MAX_CACHED_SPECS = 256
_specs_by_hash: dict[str, str] = {}


def _specs(definition: ProcessDefinition) -> str:
    """The definition's serialized specs; immutable per diagram hash, so cached per process."""
    found = _specs_by_hash.get(definition.sha256)
    if found is None:
        if len(_specs_by_hash) >= _MAX_CACHED_SPECS:
            _specs_by_hash.clear()
        found = _specs_by_hash[definition.sha256] = definition.specs
    return found


def serialize_specs(spec: Any, subprocesses: dict[str, Any]) -> str:
    registry = serializer().registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(sub) for name, sub in subprocesses.items()},
        }
    )


def load_specs(definition: ProcessDefinition) -> tuple[Any, dict[str, Any]]:
    """The definition's process spec and the specs of its sub-processes, as objects."""
    ser = serializer()
    specs = json.loads(_specs(definition))
    return ser.from_dict(specs["spec"]), {name: ser.from_dict(sub) for name, sub in specs["subprocess_specs"].items()}


def new_workflow(definition: ProcessDefinition, data: dict[str, Any]) -> BpmnWorkflow:
    spec, subprocesses = load_specs(definition)
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=script_engine())
    calls.attach(workflow, definition, serializer().registry.restore)
    # The start task's data flows on to every task (multi-instance collections are read from it).
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def restore(definition: ProcessDefinition, instance: Instance) -> BpmnWorkflow:
    """The item's workflow: the definition's specs, the specs of the called processes it is inside, its state."""
    ser = serializer()
    document = json.loads(_specs(definition))
    document.update(json.loads(instance.state))
    document["subprocess_specs"].update(calls.stored_called_specs(document, definition))
    document[ser.VERSION_KEY] = instance.serializer_version
    ser.migrate(document)
    workflow = ser.from_dict(document)
    # Deserialisation does not restore the script engine.
    workflow.script_engine = script_engine()
    calls.attach(workflow, definition, ser.registry.restore)
    return workflow


def dump(workflow: BpmnWorkflow) -> tuple[str, str]:
    """(serializer version, state as JSON text without the spec)."""
    ser = state_serializer()
    # The text carries the version too; ``restore`` goes by the stored column.
    return ser.VERSION, ser.serialize_json(workflow)


@dataclass(frozen=True)
class Failure:
    """A diagram's script, condition or timer expression that failed: the element, and why."""

    element: str
    message: str


@dataclass(frozen=True)
class Fired:
    """A timer event that fired: its BPMN id, and the called definition it is in (None: the item's own)."""

    element: str
    definition_id: int | None = None


@dataclass(frozen=True)
class EngineRun:
    fired: list[Fired]
    failure: Failure | None = None
    # What to store: (serializer version, state JSON), as ``dump`` gives it, measured against the cap.
    state: tuple[str, str] = ("", "")
    # The business rule tasks that evaluated their decision in this run, for the item's history.
    decisions: tuple[business_rules.Evaluated, ...] = ()


class _TooManySteps(Exception):
    """The run went over ``MAX_ENGINE_STEPS``; ``task`` is the step it was about to run."""

    def __init__(self, task: SpiffTask) -> None:
        super().__init__(task.task_spec.bpmn_id)
        self.task = task


class _Steps:
    """Counts the engine steps of one run, and keeps where it began, to undo it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.first: SpiffTask | None = None
        self.first_data: dict[str, Any] = {}
        self.workflow_data: dict[str, Any] = {}

    def __call__(self, task: SpiffTask) -> None:
        # The first element of the diagram (not the library's root and start tasks, which have no element).
        if self.first is None and task.parent is not None and task.task_spec.bpmn_id is not None:
            self.first, self.first_data = task, deepcopy(task.data)
            self.workflow_data = deepcopy(task.workflow.top_workflow.data)  # the end event writes to it
        self.count += 1
        if self.count > self.limit:
            raise _TooManySteps(task)


def _element(task: SpiffTask) -> str:
    return str(task.task_spec.bpmn_id or task.task_spec.name)


def _advance(workflow: BpmnWorkflow, steps: _Steps) -> None:
    """Engine steps until every branch waits: twice, so timers armed on the way are evaluated at once."""
    for _ in range(2):
        workflow.refresh_timers()
        workflow.do_engine_steps(will_complete_task=steps)
        if event_subprocesses.end_idle(workflow):
            workflow.do_engine_steps(will_complete_task=steps)
    while _compact_loops(workflow):
        workflow.do_engine_steps(will_complete_task=steps)


def run_engine(
    workflow: BpmnWorkflow,
    retry: str | None = None,
    data: dict[str, Any] | None = None,
    decisions: business_rules.DecisionSource | None = None,
) -> EngineRun:
    """Run engine steps until every branch waits for a person or a future event, then compact loops.

    Reports the BPMN ids of the timer events that fired. Timers armed by these steps are evaluated
    at once, so one already due (a deadline in the past) fires now rather than at the next pass.
    A failing script or expression stops the run there: its task is left in ERROR (the engine skips
    it from then on) and the failure is reported, for the caller to open an incident. ``retry``
    names an element whose failed tasks are run again, first given ``data``. Over the step or state
    cap, the run is undone to its first step, which is left in ERROR instead (``_undo``).
    Business rule tasks resolve their decision through ``decisions`` (``engine.bpmn.business_rules``).
    """
    done_before = {task.id for task in _timer_tasks(workflow, TaskState.COMPLETED)}
    failure = None
    steps = _Steps(MAX_ENGINE_STEPS)
    with business_rules.evaluating(decisions) as evaluated:
        try:
            if retry is not None:
                _rearm(workflow, retry, data or {})
            _advance(workflow, steps)
        except WorkflowTaskException as exc:
            failure = _failed(workflow, exc)
        except _TooManySteps as exc:
            limit = f"more than {MAX_ENGINE_STEPS} engine steps in one go (a loop with no person's task?)"
            failure = _undo(workflow, steps, f"流程步数超限 The diagram ran {limit}, up to {_element(exc.task)!r}")
            evaluated.clear()  # undone with the rest of the run
    if failure is None and (call := calls.unresolved(workflow)) is not None:
        failure = Failure(element=_element(call[0]), message=call[1])
    fired = [
        Fired(task.task_spec.bpmn_id, calls.definition_id_of(task))
        for task in _timer_tasks(workflow, TaskState.COMPLETED)
        if task.id not in done_before
    ]
    _compact_loops(workflow)
    if failure is None:
        failure = _name_people(workflow)
    state = dump(workflow)
    if len(state[1]) > MAX_STATE_BYTES:
        size = f"{len(state[1]):,} bytes (at most {MAX_STATE_BYTES:,})"
        last = "" if workflow.last_task is None else f", up to {_element(workflow.last_task)!r}"
        failure = _undo(workflow, steps, f"状态过大 The item's state would be {size}{last}")
        fired = []
        evaluated.clear()
        state = dump(workflow)
        if len(state[1]) > MAX_STATE_BYTES:
            raise StateTooLarge(f"{StateTooLarge.__doc__} ({size})")
    return EngineRun(fired, failure, state, tuple(evaluated))


def _name_people(workflow: BpmnWorkflow) -> Failure | None:
    """Evaluate the people each user task just reached names (``engine.bpmn.people``), once per arrival.

    After loops are compacted: a task reached again is reset, and names its people afresh. A failing
    expression fails its task as a failing script does; the tasks after it wait for the next run.
    """
    for task in live_user_tasks(workflow):
        if awaits_people(task):
            attributes: dict[str, str] = task.task_spec.extensions[people.PEOPLE_EXTENSION]
            try:
                task.internal_data[people.NAMED] = {
                    attribute: people.name(task.workflow.script_engine, task, attribute, text)
                    for attribute, text in attributes.items()
                }
            except WorkflowTaskException as exc:
                return _failed(workflow, exc)
    return None


def awaits_people(task: SpiffTask) -> bool:
    """A user task whose diagram names people by attribute that no run has named yet: it has no row until then."""
    extensions = getattr(task.task_spec, "extensions", {})
    return people.PEOPLE_EXTENSION in extensions and people.NAMED not in task.internal_data


def named_people(task: SpiffTask) -> dict[str, list[str]]:
    """The usernames the run gave the task's camunda:candidateUsers and camunda:assignee (by attribute)."""
    named: dict[str, list[str]] = task.internal_data.get(people.NAMED, {})
    return named


def _undo(workflow: BpmnWorkflow, steps: _Steps, message: str) -> Failure:
    """Put the workflow back where this run began: its first step, in ERROR, fails with ``message``."""
    first = steps.first
    if first is None or find_task(workflow, str(first.id)) is None:
        raise StateTooLarge(message)  # nothing ran here to undo: the caller refuses what it was given
    workflow.reset_from_task_id(first.id, data=steps.first_data)
    workflow.data = steps.workflow_data
    workflow.completed = False
    _stop(workflow, first)
    return Failure(element=_element(first), message=message)


def _stop(workflow: BpmnWorkflow, task: SpiffTask) -> None:
    # A script fails while it runs (the library marks it ERROR), a timer while it is armed (it does
    # not): marked here too, and unregistered, so no later step evaluates it again until a retry.
    if not task.has_state(TaskState.FINISHED_MASK):
        task._set_state(TaskState.ERROR)
    workflow.event_manager.remove_task(task)


def _failed(workflow: BpmnWorkflow, exc: WorkflowTaskException) -> Failure:
    task = exc.task
    _stop(workflow, task)
    # The library wraps the error; the one raised by the code says what went wrong.
    cause = exc.__context__ if exc.__context__ is not None else exc
    detail = str(cause) or type(cause).__name__
    message = detail if isinstance(cause, WorkflowTaskException) else f"{type(cause).__name__}: {detail}"
    return Failure(element=task.task_spec.bpmn_id or task.task_spec.name, message=message)


def _rearm(workflow: BpmnWorkflow, element: str, data: dict[str, Any]) -> None:
    """Put the failed tasks of ``element`` back as if just reached: a script becomes ready, a timer arms again."""
    for task in workflow.get_tasks(state=TaskState.ERROR):
        if task.task_spec.bpmn_id != element:
            continue
        # The task takes its parent's data again when it is updated: the new values go to both.
        for holder in (task.parent, task):
            if holder is not None:
                holder.data.update(data)
        task._set_state(TaskState.FUTURE)
        task.task_spec._update(task)


def _timer_tasks(workflow: BpmnWorkflow, state: TaskState) -> list[SpiffTask]:
    return [
        task
        for task in workflow.get_tasks(state=state)
        if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
    ]


def waiting_messages(workflow: BpmnWorkflow) -> dict[str, list[SpiffTask]]:
    """The tasks waiting for a message (start, catch and boundary events, receive tasks), by message name."""
    found: dict[str, list[SpiffTask]] = {}
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, MessageEventDefinition) and task.state == TaskState.WAITING:
            found.setdefault(str(definition.name), []).append(task)
    return found


def catch_message(workflow: BpmnWorkflow, name: str, variables: dict[str, Any]) -> list[str]:
    """Deliver the message ``name``: every task waiting for it catches it, with ``variables`` for its data.

    Returns the BPMN ids that caught it (none: nothing waits for that name). The caller runs the engine after.
    """
    waiting = waiting_messages(workflow).get(name, [])
    if waiting:
        # The waiting task's own definition: events match by their definition's class and name.
        workflow.catch(BpmnEvent(waiting[0].task_spec.event_definition, payload={"payload": variables}))
    return [_element(task) for task in waiting]


def set_variable(workflow: BpmnWorkflow, name: str, value: Any) -> None:
    """Change a variable throughout the task tree and re-arm the waiting timers, which read it afresh.

    How a moved deadline reaches the diagram's timers: waiting tasks take their data from their
    parents again when refreshed, so every task holding the variable gets the new value; the timers
    then evaluate their expression again. A boundary timer that already fired stays fired; an event
    sub-process whose timer reads the variable and already fired waits again (a new deadline).
    """
    for task in workflow.get_tasks():
        if name in task.data:
            task.data[name] = value
    for task in _timer_tasks(workflow, TaskState.WAITING):
        task.internal_data.pop("event_value", None)
    event_subprocesses.rearm_reading(workflow, name)


def next_timer(workflow: BpmnWorkflow) -> dt.datetime | None:
    """When the earliest waiting timer is due (None when no timer waits, or only 'never')."""
    due = []
    for task in _timer_tasks(workflow, TaskState.WAITING):
        value = task._get_internal_data("event_value")
        if isinstance(value, dict):  # a cycle timer: its next occurrence
            value = value.get("next")
        if isinstance(value, str) and value != NEVER:
            due.append(TimerEventDefinition.get_datetime(value))
    return min(due, default=None)


def _compact_loops(workflow: BpmnWorkflow) -> bool:
    """Reset each task reached again onto its earlier round (also inside called and sub-processes).

    A call activity (or sub-process) reached again is one that has started: reset onto its earlier round,
    its process starts afresh there. True when that happened, for the engine to run that process's first steps.
    """
    restarted = False
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.STARTED)):
        calls_again = isinstance(task.task_spec, SubWorkflowTask)
        if (task.state == TaskState.STARTED and not calls_again) or task.id not in task.workflow.tasks:
            continue  # a started task of another kind, or one an earlier reset removed
        ancestor = task.parent
        while ancestor is not None:
            if ancestor.task_spec is task.task_spec and ancestor.state == TaskState.COMPLETED:
                _reset_onto(workflow, ancestor, task.data)
                restarted = restarted or calls_again
                break
            ancestor = ancestor.parent
    return restarted


def _reset_onto(workflow: BpmnWorkflow, earlier: SpiffTask, data: dict[str, Any]) -> None:
    """Reset onto ``earlier`` with the data the task is reached with now.

    SpiffWorkflow's reset then merges in the data of ``earlier``'s parent, as it stood on the first round: a value
    changed since (``stage_units = list(redo_departments)``) would go back to it, and a list would only ever grow.
    So the parent shows the new data while the reset task inherits it.
    """
    parent = earlier.parent
    kept = parent.data
    parent.data = deepcopy(data)
    try:
        workflow.reset_from_task_id(earlier.id, data=deepcopy(data))
    finally:
        parent.data = kept


def live_user_tasks(workflow: BpmnWorkflow) -> Iterator[SpiffTask]:
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        if isinstance(task.task_spec, UserTask):
            yield task


def live_external_tasks(workflow: BpmnWorkflow) -> Iterator[SpiffTask]:
    """The external service tasks waiting for a worker (READY: the engine never runs them itself)."""
    for task in workflow.get_tasks(state=TaskState.READY):
        if isinstance(task.task_spec, ExternalServiceTask):
            yield task


def instance_key(task: SpiffTask) -> str | None:
    """For one instance of a multi-instance task: the value of its element variable (e.g. a unit)."""
    item = getattr(task.parent.task_spec, "input_item", None) if task.parent else None
    value = task.data.get(item.bpmn_id) if item is not None else None
    return None if value is None else str(value)


def find_task(workflow: BpmnWorkflow, spiff_id: str) -> SpiffTask | None:
    try:
        return workflow.get_task_from_id(UUID(spiff_id))
    except Exception:  # the library raises TaskNotFoundException, or KeyError in older paths
        return None


def reached_end_events(workflow: BpmnWorkflow) -> list[str]:
    """The end events the item's own process reached (not those of the processes it called)."""
    return [
        task.task_spec.bpmn_id
        for task in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(task.task_spec, EndEvent) and task.task_spec.bpmn_id and task.workflow is workflow
    ]


def data_at(workflow: BpmnWorkflow, task: SpiffTask | None) -> dict[str, Any]:
    """The workflow's data as ``task`` sees it, as plain JSON."""
    data = dict(workflow.data)
    if task is not None:
        data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def current_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data a person would call the item's data now: the live task's, or the finished process's."""
    live = next(live_user_tasks(workflow), None)
    return data_at(workflow, live if live is not None else workflow.last_task)
