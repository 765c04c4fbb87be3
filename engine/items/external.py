"""The external worker protocol: fetch and lock, complete, fail, extend a lock.

Workers (users with the ``worker`` role) poll for the external service tasks of their topics. A
fetch locks each task it hands out for its worker id until ``lock_expires_at``; while the lock holds,
no other fetch gets the task, and only that worker id may complete it, report a failure or extend
the lock. Once it expires the lock is lost, even if nobody fetched the task since: the task is
offered again, and the worker's late answer is refused (``LockLost``, 409).

Handing out is race-free: PostgreSQL skips rows another fetch is locking (``FOR UPDATE SKIP
LOCKED``), SQLite runs one writing transaction at a time (``BEGIN IMMEDIATE``). Completing and
failing lock the item first, like every change to an item, then the task's row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.bpmn.decisions import Deployed
from engine.bpmn.instance import Failure, find_task, run_engine
from engine.identity import permissions
from engine.items import external_tasks, incidents, workflow
from engine.store.errors import InvalidInput, LockLost, NotFound, TaskNotReady
from engine.store.models import ExternalTask, Item, User, utcnow


@dataclass(frozen=True)
class Fetch:
    worker_id: str
    topics: tuple[str, ...]
    max_tasks: int
    lock: dt.timedelta


@dataclass(frozen=True)
class Failed:
    """A worker's report that it could not do the task: offered again after ``retry_timeout`` while ``retries`` > 0."""

    message: str
    retries: int
    retry_timeout: dt.timedelta = dt.timedelta(0)


def fetch_and_lock(session: Session, actor: User, fetch: Fetch, now: dt.datetime | None = None) -> list[ExternalTask]:
    """Up to ``max_tasks`` tasks of the topics, oldest offer first, each locked for the worker."""
    permissions.require_worker(actor)
    now = now or utcnow()
    offered = (
        select(ExternalTask)
        .where(
            ExternalTask.state == external_tasks.OPEN,
            ExternalTask.topic.in_(fetch.topics),
            ExternalTask.available_at <= now,
            or_(ExternalTask.lock_expires_at.is_(None), ExternalTask.lock_expires_at <= now),
        )
        .order_by(ExternalTask.available_at, ExternalTask.id)
        .limit(fetch.max_tasks)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(offered))
    for row in rows:
        row.worker_id, row.lock_expires_at = fetch.worker_id, now + fetch.lock
    return rows


def _lock(session: Session, task_id: int) -> tuple[Item, ExternalTask]:
    """The task's item and the task's row, both locked, in the order every writer of the item takes them."""
    found = session.get(ExternalTask, task_id)
    if found is None:
        raise NotFound(f"外部任务不存在 No external task {task_id}")
    item = workflow.lock_item(session, found.item_id)
    return item, _row(session, task_id)


def _row(session: Session, task_id: int) -> ExternalTask:
    query = select(ExternalTask).where(ExternalTask.id == task_id).with_for_update()
    row = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if row is None:
        raise NotFound(f"外部任务不存在 No external task {task_id}")
    return row


def _require_lock(row: ExternalTask, worker_id: str, now: dt.datetime) -> None:
    if row.state != external_tasks.OPEN:
        raise TaskNotReady(f"外部任务不再等待 External task {row.id} is {row.state}, no longer waiting")
    if row.worker_id != worker_id or row.lock_expires_at is None or row.lock_expires_at <= now:
        raise LockLost()


def complete(
    session: Session,
    actor: User,
    task_id: int,
    worker_id: str,
    variables: dict[str, Any],
    now: dt.datetime | None = None,
) -> ExternalTask:
    """The worker did the task: ``variables`` join the item's data and the diagram goes on from it."""
    permissions.require_worker(actor)
    reserved = sorted(workflow.ITEM_VARIABLES & variables.keys())
    if reserved:
        message = f"这些变量由系统维护 Variables kept by the product cannot be set: {', '.join(reserved)}"
        raise InvalidInput(message, errors=[{"field": f"variables.{name}", "message": message} for name in reserved])
    item, row = _lock(session, task_id)
    _require_lock(row, worker_id, now or utcnow())
    definition, instance, running = workflow.open_item(session, item)
    task = find_task(running, row.spiff_id)
    if task is None or task.state != TaskState.READY:
        raise TaskNotReady()
    task.data.update(variables)
    task.run()
    run = run_engine(running, decisions=Deployed(session, definition.model))
    external_tasks.complete(row)
    status_from = item.status
    new_tasks = workflow.store_state(session, item, instance, definition, running, run)
    history.record(
        session,
        item,
        actor=actor.username,
        action="external_completed",
        task=row.element,
        status_from=status_from,
        status_to=item.status,
        data={"worker": worker_id, "topic": row.topic, "variables": variables},
    )
    workflow.finish_run(session, item, definition, run, new_tasks, status_from)
    return row


def fail(
    session: Session, actor: User, task_id: int, worker_id: str, failed: Failed, now: dt.datetime | None = None
) -> ExternalTask:
    """The worker could not do the task: offered again later or, with no retries left, an incident on the item."""
    permissions.require_worker(actor)
    now = now or utcnow()
    item, row = _lock(session, task_id)
    _require_lock(row, worker_id, now)
    row.worker_id = row.lock_expires_at = None
    row.retries, row.error_message = failed.retries, failed.message
    if failed.retries > 0:
        row.available_at = now + failed.retry_timeout
    else:
        row.state = external_tasks.INCIDENT
        failure = Failure(element=row.element, message=f"{worker_id}: {failed.message}")
        incidents.open_incident(session, item, failure, heading=incidents.EXTERNAL_FAILED)
    return row


def extend_lock(
    session: Session, actor: User, task_id: int, worker_id: str, lock: dt.timedelta, now: dt.datetime | None = None
) -> ExternalTask:
    """The worker needs longer: its lock now lasts ``lock`` from now."""
    permissions.require_worker(actor)
    now = now or utcnow()
    row = _row(session, task_id)
    _require_lock(row, worker_id, now)
    row.lock_expires_at = now + lock
    return row
