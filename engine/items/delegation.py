"""Giving a ready task to one person: a manager of the task's unit assigns a manager or member of that unit.

Only a task whose lane rule names a unit (``department_*``, ``unit_*``) is handed on; the rule itself is
``engine.items.assignment.may_delegate`` / ``may_receive``. The task then stays completable by its
rule's candidates and, besides them, by the assignee ("each unit's managers, or a member they assign").
A refused delegation is ``Forbidden`` (403, and so in the admin log).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.items import assignment, items, notifications
from engine.items.workflow import authorize_task, lock_item
from engine.store.errors import Forbidden, InvalidInput, TaskNotReady
from engine.store.models import Item, Task, User


def lane_rule(session: Session, task: Task) -> str:
    """The lane rule of the task, as the item's deployed diagram names it (the task row keeps only its result).

    Rows come through the session's identity map: asking again within a request costs no query.
    """
    model = items.task_model(session, session.get_one(Item, task.item_id), task)
    return str(model["tasks"][task.name]["candidates"])


def require_delegator(session: Session, actor: User, task_id: int) -> Task:
    """404: no such task; 403 unless it is a unit rule's task and ``actor`` a manager of that unit who may do it."""
    row = authorize_task(session, actor, task_id)
    rule = lane_rule(session, row)
    if rule not in assignment.UNIT_RULES:
        why = f"follows the lane rule {rule!r}" if rule else "names its people in the diagram (camunda attributes)"
        raise Forbidden(
            f"该任务不能指派 Task {row.name!r} {why}: only a unit's task (department_*, unit_*) may be assigned"
        )
    if not assignment.may_delegate(actor, row, rule):
        raise Forbidden("只有本单位负责人可以指派 Only a manager of the task's unit may assign it")
    return row


def receivers(session: Session, task: Task) -> list[User]:
    """Whom the task may be given to (``assignment.may_receive``): the people of its unit, by name."""
    rule = lane_rule(session, task)
    if rule not in assignment.UNIT_RULES or task.candidate_department_id is None:
        return []
    unit = select(User).where(User.department_id == task.candidate_department_id, User.active.is_(True))
    return [user for user in session.scalars(unit.order_by(User.username)) if assignment.may_receive(user, task, rule)]


def assign(session: Session, actor: User, task_id: int, username: str) -> Item:
    row = require_delegator(session, actor, task_id)
    item = lock_item(session, row.item_id)
    session.refresh(row)
    if row.state != "ready":
        raise TaskNotReady()
    target = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if target is None:
        message = f"没有该用户 {username!r} is no active user"
        raise InvalidInput(message, errors=[{"field": "assignee", "message": message}])
    if not assignment.may_receive(target, row, lane_rule(session, row)):
        message = f"须指派给本单位人员 {username!r} is not a manager or member of the unit this task belongs to"
        raise Forbidden(message, errors=[{"field": "assignee", "message": message}])
    row.assignee_id = target.id
    data = {"assignee": target.username, "unit": row.instance_key}
    history.record_change(session, item, actor=actor.username, action="assigned", task=row.name, data=data)
    notifications.task_assigned(session, item, row, target)
    return item
