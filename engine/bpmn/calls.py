"""Call activities that call another *deployed* process by key, the version chosen when the call is reached.

``<bpmn:callActivity calledElement="key">`` names a process key. When it names a process of the same
file, SpiffWorkflow's own call activity runs it, from the specs deployed with the file (Camunda's
``deployment`` binding). Otherwise the call is resolved when an item reaches it: the latest deployed
version of ``key``, or version N with ``camunda:calledElementBinding="version"
camunda:calledElementVersion="N"`` (``calledElementVersion`` alone means the same). Data flows as
SpiffWorkflow's default has it: the call activity's data is all copied into the called process, and
all of the called process's data at its end comes back.

The called definition's specs are registered in the workflow's ``subprocess_specs`` under a name with
its definition id, ``key@<id>`` (its own sub-processes as ``key@<id>/<name>``): the stored state names
the subprocess that way, so ``instance.restore`` knows which definitions to load again, and an item
already inside a version stays on it whatever is deployed later. The lookups go through a ``Library``,
which ``instance.new_workflow`` and ``restore`` attach to every workflow from the definition's session.
A key that does not resolve fails the call activity, which becomes an incident; retried after the
process is deployed, the call goes through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.task_spec import SubWorkflowConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine.store.models import ProcessDefinition

BINDING = "calledElementBinding"
VERSION = "calledElementVersion"
LATEST, VERSION_BINDING, DEPLOYMENT = "latest", "version", "deployment"
# ``key@<definition id>``, and ``key@<definition id>/<sub-process>`` for the called definition's own sub-processes.
_AT, _IN = "@", "/"
_LIBRARY = "rectiflow_library"
# A call task's internal data: the called spec's name once resolved, or why it did not resolve.
_CALLED, _UNRESOLVED = "called", "unresolved"
_MAX_CACHED = 256
# By definition id and content hash: an id alone is another definition in another database (one restored, a test's).
_renamed: dict[tuple[int, str], str] = {}


def called_name(definition: ProcessDefinition) -> str:
    return f"{definition.key}{_AT}{definition.id}"


def called_id(spec_name: str) -> int | None:
    """The definition id a (sub-)process spec name carries: None for the item's own definition."""
    head, at, tail = spec_name.partition(_IN)[0].rpartition(_AT)
    return int(tail) if at and head and tail.isdigit() else None


def definition_id_of(task: SpiffTask) -> int | None:
    """The called definition ``task`` belongs to (None: the item's own definition)."""
    return called_id(str(task.workflow.spec.name))


class Unresolved(Exception):
    """被调用的流程未部署 The called process is not deployed"""


class Library:
    """The deployed definitions a workflow's call activities reach, read through one session."""

    def __init__(self, session: Session | None, restore_spec: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.session = session
        self.restore_spec = restore_spec

    def resolve(self, key: str, version: int | None) -> ProcessDefinition:
        query = select(ProcessDefinition).where(ProcessDefinition.key == key)
        if version is None:
            query = query.order_by(ProcessDefinition.version.desc()).limit(1)
        else:
            query = query.where(ProcessDefinition.version == version)
        found = self.session.scalar(query) if self.session is not None else None
        if found is None:
            which = "any version" if version is None else f"version {version}"
            raise Unresolved(
                f"{Unresolved.__doc__}: no {which} of process {key!r} is deployed (deploy it, then retry the incident)"
            )
        return found

    def get(self, definition_id: int) -> ProcessDefinition:
        found = self.session.get(ProcessDefinition, definition_id) if self.session is not None else None
        if found is None:
            raise Unresolved(f"{Unresolved.__doc__}: no process definition {definition_id}")
        return found


def attach(
    workflow: BpmnWorkflow, definition: ProcessDefinition, restore_spec: Callable[[dict[str, Any]], Any]
) -> None:
    """Give ``workflow`` the library of ``definition``'s session, for its call activities to resolve through;
    ``restore_spec`` turns a serialized spec into the spec object (the serializer's registry)."""
    setattr(workflow, _LIBRARY, Library(object_session(definition), restore_spec))


def _library(workflow: BpmnWorkflow) -> Library:
    found = getattr(workflow, _LIBRARY, None)
    return found if isinstance(found, Library) else Library(None)


def renamed_specs(definition: ProcessDefinition) -> dict[str, Any]:
    """``definition``'s specs, serialized, under their called names (``key@<id>``, ``key@<id>/<sub>``).

    Immutable per definition, so the renamed text is cached; each caller gets its own parsed copy
    (restoring a spec consumes its dict).
    """
    cached = (definition.id, definition.sha256)
    text = _renamed.get(cached)
    if text is None:
        specs = json.loads(definition.specs)
        prefix = called_name(definition)
        subs = set(specs["subprocess_specs"])
        renamed = {prefix: specs["spec"]} | {
            f"{prefix}{_IN}{name}": sub for name, sub in specs["subprocess_specs"].items()
        }
        for name, spec in renamed.items():
            spec["name"] = name
            for task_spec in spec["task_specs"].values():
                # Only the file's own sub-processes: a deployed call's ``spec`` is a key, resolved when reached.
                if task_spec.get("spec") in subs:
                    task_spec["spec"] = f"{prefix}{_IN}{task_spec['spec']}"
        if len(_renamed) >= _MAX_CACHED:
            _renamed.clear()
        text = _renamed[cached] = json.dumps(renamed)
    found: dict[str, Any] = json.loads(text)
    return found


def stored_called_specs(workflow_dict: dict[str, Any], definition: ProcessDefinition) -> dict[str, Any]:
    """The serialized specs of the called definitions a stored state's subprocesses run on."""
    names = {sub.get("spec", "") for sub in workflow_dict.get("subprocesses", {}).values()}
    ids = {found for name in names if (found := called_id(str(name))) is not None}
    library = Library(object_session(definition))
    specs: dict[str, Any] = {}
    for definition_id in sorted(ids):
        specs.update(renamed_specs(library.get(definition_id)))
    return specs


def _keys_above(task: SpiffTask) -> list[str]:
    """The process keys of the workflows ``task`` runs inside, innermost first (for recursion)."""
    keys = []
    workflow = task.workflow
    while workflow is not None:
        name = str(workflow.spec.name).partition(_IN)[0]
        keys.append(name.rpartition(_AT)[0] or name)
        workflow = workflow.parent_workflow
    return keys


class DeployedCall(CallActivity):
    """Calls the deployed process whose key is ``spec``: its ``version``, or (None) the latest when reached."""

    def __init__(self, wf_spec: Any, bpmn_id: str, subworkflow_spec: str, version: int | None = None, **kwargs: Any):
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.version = version

    def _resolve(self, my_task: SpiffTask) -> str:
        top = my_task.workflow.top_workflow
        if self.spec in _keys_above(my_task):
            raise Unresolved(f"递归调用 Process {self.spec!r} would call itself (directly or through other processes)")
        library = _library(top)
        definition = library.resolve(self.spec, self.version)
        name = called_name(definition)
        if name not in top.subprocess_specs and library.restore_spec is not None:
            for spec_name, spec in renamed_specs(definition).items():
                top.subprocess_specs[spec_name] = library.restore_spec(spec)
        return name

    def _update_hook(self, my_task: SpiffTask) -> Any:
        """Resolve the call when it is reached; one that does not resolve leaves the task in ERROR, with why.

        Not raised: the call is reached while the task before it completes, outside the engine's steps, and
        ``instance.run_engine`` reports it (``unresolved``) as it reports a failing script.
        """
        if my_task.workflow.top_workflow.subprocesses.get(my_task.id) is None:
            try:
                my_task.internal_data[_CALLED] = self._resolve(my_task)
            except Unresolved as exc:
                my_task.internal_data[_UNRESOLVED] = str(exc)
                my_task.error()
                return None
        return super()._update_hook(my_task)

    def copy_data(self, my_task: SpiffTask, subworkflow: Any) -> None:
        """As SpiffWorkflow's, but a deep copy: the called process's lists are its own (a multi-instance task
        writing its collection back would otherwise change the caller's, and the next call's)."""
        super().copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(spec_name="Start")
        start.data = deepcopy(start.data)

    def start_workflow(self, my_task: SpiffTask) -> None:
        """As SpiffWorkflow's, on the spec resolved when the call was reached."""
        subworkflow = my_task.workflow.top_workflow.create_subprocess(my_task, my_task.internal_data[_CALLED])
        subworkflow.completed_event.connect(self._on_subworkflow_completed, my_task)
        self.copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(spec_name="Start")
        start.run()


def unresolved(workflow: BpmnWorkflow) -> tuple[SpiffTask, str] | None:
    """A call that did not resolve since last asked: its task, and why (reported once)."""
    for task in workflow.get_tasks(state=TaskState.ERROR):
        message = task.internal_data.pop(_UNRESOLVED, None)
        if message is not None:
            return task, str(message)
    return None


def binding(node: Any, attribute: Callable[[Any, str], str]) -> tuple[str, str]:
    """(binding, version text) as the call activity ``node`` declares them; the binding defaults as Camunda's."""
    version = attribute(node, VERSION)
    return attribute(node, BINDING) or (VERSION_BINDING if version else LATEST), version


class DeployedCallConverter(SubWorkflowConverter):
    def to_dict(self, spec: DeployedCall) -> dict[str, Any]:
        return {**super().to_dict(spec), "version": spec.version}


class CalledSubWorkflowConverter(BpmnSubWorkflowConverter):
    """Restores a called process on the spec it was stored with (``key@<id>``), not the call's key."""

    def from_dict(self, dct: dict[str, Any], task: SpiffTask, top_workflow: BpmnWorkflow) -> Any:
        name = dct.get("spec")
        if isinstance(name, str) and called_id(name) is not None:
            subprocess = self.target_class(
                top_workflow.subprocess_specs[name], task.id, top_workflow, deserializing=True
            )
            subprocess.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=subprocess)
            subprocess.task_tree = subprocess.tasks.get(UUID(dct["root"]))
            self.set_default_attributes(subprocess, dct)
            return subprocess
        return super().from_dict(dct, task, top_workflow)
