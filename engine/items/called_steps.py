"""The steps of the processes an item's call activities called (``engine.bpmn.calls``), as people see them.

A called process's user tasks, timers and escalations are read from the *called* definition's model
(people, forms, statuses); each such task row names that definition (``Task.definition_id``), and each
history event of such a step carries the marker ``"called": {"key", "version"}`` in its data, so the
timeline can show which process, in which version, the step was part of.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.store.models import ProcessDefinition

# The key of the history data that marks a step of a called process.
CALLED = "called"


def definition(session: Session, item_definition: ProcessDefinition, called: int | None) -> ProcessDefinition:
    """The definition of a step: the called one (by id), or (None) the item's own."""
    return item_definition if called is None else session.get_one(ProcessDefinition, called)


def marker(session: Session, called: int | None) -> dict[str, Any]:
    """History data marking a step of the called definition ``called`` (nothing for the item's own steps)."""
    if called is None:
        return {}
    found = session.get_one(ProcessDefinition, called)
    return {CALLED: {"key": found.key, "version": found.version}}
