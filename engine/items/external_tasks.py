"""The rows of external service tasks, kept in step with each item's workflow.

Whenever an item's state is stored (``workflow.store_state``) the external service tasks its
diagram waits at get a row each (``ExternalTask``), with the item's data as the variables a worker
is given; a row whose task left the diagram's path is cancelled. What workers do with the rows is
``engine.items.external``.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.bpmn.instance import data_at, find_task, live_external_tasks
from engine.store.models import ExternalTask, Item, utcnow

OPEN = "open"
INCIDENT = "incident"
COMPLETED = "completed"
CANCELLED = "cancelled"
# Rows whose task the diagram still waits at.
WAITING = (OPEN, INCIDENT)


def sync(session: Session, item: Item, workflow: BpmnWorkflow) -> None:
    """One waiting row per external task the workflow waits at (the caller holds the item's lock)."""
    live = {str(task.id): task for task in live_external_tasks(workflow)}
    rows = session.scalars(select(ExternalTask).where(ExternalTask.item_id == item.id, ExternalTask.state.in_(WAITING)))
    kept = set()
    for row in rows:
        task = live.get(row.spiff_id)
        if task is None or task.task_spec.bpmn_id != row.element:
            _end(row, CANCELLED)
        else:
            kept.add(row.spiff_id)
    for spiff_id, task in live.items():
        if spiff_id not in kept:
            session.add(
                ExternalTask(
                    item_id=item.id,
                    spiff_id=spiff_id,
                    element=task.task_spec.bpmn_id,
                    topic=task.task_spec.topic,
                    state=OPEN,
                    variables=data_at(workflow, task),
                    available_at=utcnow(),
                )
            )


def _end(row: ExternalTask, state: str) -> None:
    row.state = state
    row.completed_at = utcnow()
    row.worker_id = row.lock_expires_at = None


def complete(row: ExternalTask) -> None:
    _end(row, COMPLETED)


def cancel_all(session: Session, item: Item) -> None:
    """The item stopped for good (withdrawn): no worker is offered its tasks any more."""
    session.execute(
        update(ExternalTask)
        .where(ExternalTask.item_id == item.id, ExternalTask.state.in_(WAITING))
        .values(state=CANCELLED, completed_at=utcnow(), worker_id=None, lock_expires_at=None)
    )


def reoffer(session: Session, workflow: BpmnWorkflow, item: Item, element: str, data: dict[str, Any]) -> None:
    """An admin's retry of an incident at ``element``: its tasks are offered again, with ``data`` added.

    The retries a worker gave are forgotten (the next failure sets them afresh); its last message stays.
    """
    rows = session.scalars(
        select(ExternalTask).where(
            ExternalTask.item_id == item.id, ExternalTask.element == element, ExternalTask.state == INCIDENT
        )
    )
    for row in rows:
        task = find_task(workflow, row.spiff_id)
        if task is not None:
            task.data.update(data)
        row.variables = {**row.variables, **data}
        row.state, row.retries, row.available_at = OPEN, None, utcnow()
