"""Live workflows kept between requests: restoring an item's workflow is the costliest part of a step.

Each process keeps the workflows it stored last, keyed by what they were stored as: the definition,
the serializer version and a digest of the state text. A request that reads its item's stored state
and finds that key takes the object instead of deserializing it. Whoever else stores the item (another
process, a migration, a backup restore) stores another state, whose key finds nothing: a stale object is
never used. A taken object belongs to one request; it comes back only when that request's transaction
commits the very state it was dumped as, so a rolled-back request leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.bpmn import calls
from engine.bpmn.builder import serializer
from engine.bpmn.instance import restore
from engine.store.models import Instance, ProcessDefinition

Key = tuple[int, str, bytes]
_PENDING = "rectiflow_live_workflows"
DEFAULT_CAPACITY = 256


def key_of(definition_id: int, serializer_version: str, state: str) -> Key:
    return definition_id, serializer_version, hashlib.blake2b(state.encode(), digest_size=16).digest()


class LiveWorkflows:
    """A bounded, thread-safe pool of workflows by the state they were stored as, least recently kept out first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._found: OrderedDict[Key, BpmnWorkflow] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: Key) -> BpmnWorkflow | None:
        with self._lock:
            return self._found.pop(key, None)

    def keep(self, key: Key, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._found[key] = workflow
            self._found.move_to_end(key)
            while len(self._found) > self.capacity:
                self._found.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._found.clear()

    def __len__(self) -> int:
        return len(self._found)


pool = LiveWorkflows()


def open_workflow(definition: ProcessDefinition, instance: Instance) -> BpmnWorkflow:
    """The item's workflow as stored: the kept object when there is one, else restored from the state."""
    workflow = pool.take(key_of(definition.id, instance.serializer_version, instance.state))
    if workflow is None:
        return restore(definition, instance)
    # Calls resolve through the session of the request at hand, not the one that kept the object.
    calls.attach(workflow, definition, serializer().registry.restore)
    return workflow


def keep_on_commit(session: Session, instance: Instance, definition_id: int, workflow: BpmnWorkflow) -> None:
    """Keep ``workflow`` once ``session`` commits ``instance`` as it now stands (the workflow's dump)."""
    session.info.setdefault(_PENDING, {})[instance.item_id] = (
        key_of(definition_id, instance.serializer_version, instance.state),
        workflow,
    )


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for key, workflow in session.info.pop(_PENDING, {}).values():
        pool.keep(key, workflow)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
