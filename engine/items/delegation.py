"""Giving a ready task to one person: a manager who may complete it assigns a member of the unit.

The task then stays completable by its rule's candidates and, besides them, by the assignee
("each unit's managers, or a member they assign").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.identity.identity import Role
from engine.items import notifications
from engine.items.workflow import authorize_task, lock_item
from engine.store.errors import Forbidden, InvalidInput, TaskNotReady
from engine.store.models import Item, Task, User


def require_delegator(session: Session, actor: User, task_id: int) -> Task:
    """Only a manager who may complete the task himself hands it on."""
    row = authorize_task(session, actor, task_id)
    if Role.MANAGER not in actor.roles:
        raise Forbidden("只有负责人可以指派 Only a manager may assign a task")
    return row


def assign(session: Session, actor: User, task_id: int, username: str) -> Item:
    row = require_delegator(session, actor, task_id)
    item = lock_item(session, row.item_id)
    session.refresh(row)
    if row.state != "ready":
        raise TaskNotReady()
    unit = row.candidate_department_id or item.department_id
    target = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if target is None or target.department_id != unit:
        message = f"须指派给本单位人员 {username!r} is not a member of the unit this task belongs to"
        raise InvalidInput(message, errors=[{"field": "assignee", "message": message}])
    row.assignee_id = target.id
    data = {"assignee": target.username, "unit": row.instance_key}
    history.record_change(session, item, actor=actor.username, action="assigned", task=row.name, data=data)
    notifications.task_assigned(session, item, row, target)
    return item
