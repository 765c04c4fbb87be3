"""One item's SpiffWorkflow instance: create, restore, advance, compact, store.

The state stored per item holds only what is live: the spec lives once on the process definition,
and a loop that returns to an earlier task (reject → rectify) is compacted back onto that task,
so the task tree and the state stay the same size however many rounds an item goes through.
The finished round's data is in the product's history table before compaction drops it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.builder import script_engine, serializer
from engine.models import Instance, ProcessDefinition

_SPEC_KEYS = ("spec", "subprocess_specs")
LIVE_STATES = {TaskState.READY: "ready", TaskState.WAITING: "waiting", TaskState.STARTED: "waiting"}


def new_workflow(definition: ProcessDefinition, data: dict[str, Any]) -> BpmnWorkflow:
    ser = serializer()
    spec = ser.from_dict(definition.specs["spec"])
    subprocesses = {name: ser.from_dict(sub) for name, sub in definition.specs["subprocess_specs"].items()}
    workflow = BpmnWorkflow(spec, subprocesses, script_engine=script_engine())
    workflow.data.update(data)
    return workflow


def restore(definition: ProcessDefinition, instance: Instance) -> BpmnWorkflow:
    ser = serializer()
    dct = dict(instance.state)
    dct.update({key: definition.specs[key] for key in _SPEC_KEYS})
    dct[ser.VERSION_KEY] = instance.serializer_version
    workflow = ser.deserialize_json(json.dumps(dct))
    # Deserialisation does not restore the script engine.
    workflow.script_engine = script_engine()
    return workflow


def dump(workflow: BpmnWorkflow) -> tuple[str, dict[str, Any]]:
    """(serializer version, state without the spec) ready for a JSON column."""
    ser = serializer()
    dct = json.loads(ser.serialize_json(workflow))
    for key in _SPEC_KEYS:
        dct.pop(key)
    return str(dct.pop(ser.VERSION_KEY)), dct


def run_engine(workflow: BpmnWorkflow) -> None:
    """Run engine steps until every branch waits for a person or an event, then compact loops."""
    workflow.refresh_timers()
    workflow.do_engine_steps()
    _compact_loops(workflow)


def _compact_loops(workflow: BpmnWorkflow) -> None:
    for task in list(workflow.get_tasks(state=TaskState.READY)):
        ancestor = task.parent
        while ancestor is not None:
            if ancestor.task_spec is task.task_spec and ancestor.state == TaskState.COMPLETED:
                workflow.reset_from_task_id(ancestor.id, data=dict(task.data))
                break
            ancestor = ancestor.parent


def live_user_tasks(workflow: BpmnWorkflow) -> Iterator[SpiffTask]:
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        if isinstance(task.task_spec, UserTask):
            yield task


def find_task(workflow: BpmnWorkflow, spiff_id: str) -> SpiffTask | None:
    try:
        return workflow.get_task_from_id(UUID(spiff_id))
    except Exception:  # the library raises TaskNotFoundException, or KeyError in older paths
        return None


def reached_end_events(workflow: BpmnWorkflow) -> list[str]:
    return [
        task.task_spec.bpmn_id
        for task in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(task.task_spec, EndEvent) and task.task_spec.bpmn_id
    ]


def current_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data a person would call the item's data now: the live task's, or the finished process's."""
    live = next(live_user_tasks(workflow), None)
    data = dict(workflow.data)
    if live is not None:
        data.update(live.data)
    elif workflow.last_task is not None:
        data.update(workflow.last_task.data)
    return json.loads(json.dumps(data, default=str))
