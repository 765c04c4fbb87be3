"""Who may complete a task: the task's Camunda attributes, or else its lane's rule, resolved against the item.

A user task that names people itself (``camunda:candidateGroups``, ``camunda:candidateUsers``,
``camunda:assignee``; what they may say is ``engine.bpmn.people``) is theirs, whatever its lane; any
other task's lane names a rule (``candidates`` property). Either way the item gives a candidate set
with up to five parts, stored on the task row so that the inbox is one query:

- ``role``: users holding one of these roles ...
- ``department_id``: ... and belonging to this department (when set);
- ``user_ids``: or one of these users (candidateUsers);
- ``assignee_id``: or exactly this user;
- ``excluded_user_id``: never this user (segregation of duties), whatever else matches.

Camunda lets a candidate claim a task and the assignee work it; Rectiflow has no claiming, so the
assignee and every candidate may complete it (as Camunda's default task authorizations allow). The
groups of a task share one unit: ``role:lead-unit`` is the item's responsible unit, ``role:task-unit``
the unit a multi-instance task works on, ``role:CODE`` that department; a unit that does not exist
admits nobody by group. Usernames that are no user admit nobody.

Besides its rule, a ready task of a unit rule (``department_*``, ``unit_*``) may be given to one
person of that unit (``assignee_id``) by a manager of the unit who may complete it himself: "each
unit's managers, or a member they assign" (``may_delegate``, ``may_receive``; see
``engine.items.delegation``). The other rules name people for what they are (the owner, approvers
independent of the owner or of the consolidator): their tasks are never handed on, so that
delegation cannot sidestep segregation of duties.

The rules:

========================= =============================================================
``department_managers``   managers of the item's responsible (lead) department
``department_members``    managers and members of the item's responsible department
``unit_managers``         managers of the unit a multi-instance task works on (its element
                          variable ``unit``, a department code)
``unit_members``          managers and members of that unit
``owner``                 the item's assigned owner only (nobody until one is assigned)
``approvers``             users with the approver role, never the item's owner
``independent_approvers`` approvers, never the person whose step made the review ready
========================= =============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from engine.bpmn import people
from engine.bpmn.lanes import LaneRule
from engine.store.models import Department, Item, Task, User, UserRole

# The multi-instance element variable that names a unit (see processes/joint_task.bpmn).
UNIT_VARIABLE = "unit"


@dataclass(frozen=True)
class Candidates:
    roles: tuple[str, ...] = ()
    department_id: int | None = None
    assignee_id: int | None = None
    excluded_user_id: int | None = None
    user_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Context:
    """What a rule may look at: the item, the task's own data, who made the task ready, and the usernames
    the run gave its camunda:candidateUsers and camunda:assignee (``engine.bpmn.instance.named_people``)."""

    session: Session
    item: Item
    data: dict[str, Any]
    actor_id: int | None
    named: Mapping[str, list[str]] = field(default_factory=dict)


def _department_managers(ctx: Context) -> Candidates:
    return Candidates(roles=("manager",), department_id=ctx.item.department_id)


def _department_members(ctx: Context) -> Candidates:
    return Candidates(roles=("manager", "member"), department_id=ctx.item.department_id)


def _unit(ctx: Context, code: str | None = None) -> Department | None:
    """The department ``code`` names; by default the unit a multi-instance task works on."""
    code = ctx.data.get(UNIT_VARIABLE) if code is None else code
    return ctx.session.scalar(select(Department).where(Department.code == code)) if isinstance(code, str) else None


def _unit_managers(ctx: Context) -> Candidates:
    unit = _unit(ctx)
    # An instance naming no known unit is nobody's: it shows up as a task without candidates.
    return Candidates(roles=("manager",), department_id=unit.id) if unit else Candidates()


def _unit_members(ctx: Context) -> Candidates:
    unit = _unit(ctx)
    return Candidates(roles=("manager", "member"), department_id=unit.id) if unit else Candidates()


def _owner(ctx: Context) -> Candidates:
    return Candidates(assignee_id=ctx.item.owner_id)


def _approvers(ctx: Context) -> Candidates:
    return Candidates(roles=("approver",), excluded_user_id=ctx.item.owner_id)


def _independent_approvers(ctx: Context) -> Candidates:
    return Candidates(roles=("approver",), excluded_user_id=ctx.actor_id)


# The rules whose task a manager of the unit may hand to one person of that unit.
UNIT_RULES = frozenset(
    {LaneRule.DEPARTMENT_MANAGERS, LaneRule.DEPARTMENT_MEMBERS, LaneRule.UNIT_MANAGERS, LaneRule.UNIT_MEMBERS}
)
# The rules that name the item's lead unit: their live tasks follow a corrected lead unit.
LEAD_UNIT_RULES = frozenset({LaneRule.DEPARTMENT_MANAGERS, LaneRule.DEPARTMENT_MEMBERS})
# Who of a unit may be given its task: its managers and members, as ``*_members`` would admit them.
UNIT_PEOPLE = ("manager", "member")

RULES: dict[str, Callable[[Context], Candidates]] = {
    LaneRule.DEPARTMENT_MANAGERS: _department_managers,
    LaneRule.DEPARTMENT_MEMBERS: _department_members,
    LaneRule.UNIT_MANAGERS: _unit_managers,
    LaneRule.UNIT_MEMBERS: _unit_members,
    LaneRule.OWNER: _owner,
    LaneRule.APPROVERS: _approvers,
    LaneRule.INDEPENDENT_APPROVERS: _independent_approvers,
}


def resolve(rule: str, ctx: Context) -> Candidates:
    return RULES[rule](ctx)


def for_step(spec: dict[str, Any], ctx: Context) -> Candidates:
    """Who may complete a step (``spec``: its entry in the diagram's model): the people it names, else its lane rule."""
    named = spec.get("people")
    if not named:
        return resolve(spec["candidates"], ctx)
    roles: tuple[str, ...] = tuple(named["roles"])
    department_id = None
    if roles and named["unit"] == people.Scope.LEAD_UNIT:
        department_id = ctx.item.department_id
    elif roles and named["unit"] is not None:
        unit = _unit(ctx, None if named["unit"] == people.Scope.TASK_UNIT else named["unit"])
        # A unit that does not exist admits nobody, as a multi-instance task naming no known unit.
        roles, department_id = (roles, unit.id) if unit is not None else ((), None)
    ids = _user_ids(ctx)
    assignee = ctx.named.get(people.ASSIGNEE, [])
    users = ctx.named.get(people.CANDIDATE_USERS, [])
    return Candidates(
        roles,
        department_id,
        assignee_id=ids.get(assignee[0]) if assignee else None,
        user_ids=tuple(sorted({ids[name] for name in users if name in ids})),
    )


def follow_lead_unit(task: Task, spec: dict[str, Any], ctx: Context) -> None:
    """The item's lead unit was corrected: a live task whose people are the lead unit's goes to the new one.

    A lane rule's is resolved again (a delegation within the old unit ends); named users and assignee stay.
    """
    named = spec.get("people")
    if named:
        if named["roles"] and named["unit"] == people.Scope.LEAD_UNIT:
            task.candidate_department_id = ctx.item.department_id
    elif spec["candidates"] in LEAD_UNIT_RULES:
        apply(task, resolve(spec["candidates"], ctx))


def _user_ids(ctx: Context) -> dict[str, int]:
    """The ids of the users the task names, by username (a name that is no user is left out)."""
    usernames = {name for names in ctx.named.values() for name in names}
    if not usernames:
        return {}
    found = ctx.session.execute(select(User.username, User.id).where(User.username.in_(usernames)))
    return {username: user_id for username, user_id in found}


def apply(task: Task, candidates: Candidates) -> None:
    # Delimited on both sides so that the inbox can match one role (or user) with LIKE '%,role,%'.
    task.candidate_role = f",{','.join(candidates.roles)}," if candidates.roles else None
    task.candidate_user_ids = f",{','.join(map(str, candidates.user_ids))}," if candidates.user_ids else None
    task.candidate_department_id = candidates.department_id
    task.assignee_id = candidates.assignee_id
    task.excluded_user_id = candidates.excluded_user_id


def _roles(task: Task) -> list[str]:
    return [role for role in (task.candidate_role or "").split(",") if role]


def _admits(candidates: Candidates, user: User) -> bool:
    if not user.active or candidates.excluded_user_id == user.id:
        return False
    if (candidates.assignee_id is not None and candidates.assignee_id == user.id) or user.id in candidates.user_ids:
        return True
    if not user.roles.intersection(candidates.roles):
        return False
    return candidates.department_id is None or candidates.department_id == user.department_id


def stored(task: Task) -> Candidates:
    """The candidate set as ``apply`` stored it on the task."""
    user_ids = tuple(int(user_id) for user_id in (task.candidate_user_ids or "").split(",") if user_id)
    return Candidates(
        tuple(_roles(task)), task.candidate_department_id, task.assignee_id, task.excluded_user_id, user_ids
    )


def may_complete(user: User, task: Task) -> bool:
    return _admits(stored(task), user)


def _unit_people(rule: str, task: Task, roles: tuple[str, ...]) -> Candidates | None:
    """The task's unit, narrowed to ``roles`` and still without whom the task excludes; None: no unit rule."""
    if rule not in UNIT_RULES or task.candidate_department_id is None:
        return None
    return Candidates(roles, task.candidate_department_id, excluded_user_id=task.excluded_user_id)


def may_delegate(user: User, task: Task, rule: str) -> bool:
    """A manager of the task's unit who may complete it himself hands a unit rule's task on (``rule``: its lane's)."""
    managers = _unit_people(rule, task, ("manager",))
    return managers is not None and may_complete(user, task) and _admits(managers, user)


def may_receive(user: User, task: Task, rule: str) -> bool:
    """Who a unit rule's task may be given to: an active manager or member of its unit, never whom it excludes."""
    people = _unit_people(rule, task, UNIT_PEOPLE)
    return people is not None and _admits(people, user)


def inbox_clause(user: User) -> ColumnElement[bool]:
    """SQL twin of ``may_complete`` for listing the tasks a user may complete."""
    if not user.active:
        return false()
    by_role = [Task.candidate_role.like(f"%,{role},%") for role in sorted(user.roles)]
    role_match = and_(
        or_(*by_role) if by_role else false(),
        or_(Task.candidate_department_id.is_(None), Task.candidate_department_id == user.department_id),
    )
    return and_(
        or_(Task.excluded_user_id.is_(None), Task.excluded_user_id != user.id),
        or_(Task.assignee_id == user.id, Task.candidate_user_ids.like(f"%,{user.id},%"), role_match),
    )


def candidates_clause(task: Task) -> ColumnElement[bool]:
    """SQL for the users who may complete the task right now (a third twin of ``may_complete``)."""
    clauses = []
    if task.assignee_id is not None:
        clauses.append(User.id == task.assignee_id)
    if task.candidate_user_ids:
        clauses.append(User.id.in_(stored(task).user_ids))
    if task.candidate_role:
        in_role: ColumnElement[bool] = User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(_roles(task))))
        if task.candidate_department_id is not None:
            in_role = and_(in_role, User.department_id == task.candidate_department_id)
        clauses.append(in_role)
    if not clauses:
        return false()
    excluded = User.id != task.excluded_user_id if task.excluded_user_id is not None else true()
    return and_(User.active.is_(True), or_(*clauses), excluded)


def candidate_usernames(session: Session, task: Task) -> list[str]:
    """The people who may complete the task right now, for display."""
    return candidates_by_task(session, [task])[task.id]


def candidates_by_task(session: Session, tasks: Sequence[Task]) -> dict[int, list[str]]:
    """``candidate_usernames`` of each task, in one query however many tasks (an inbox, an item's steps).

    The query finds everyone any of the tasks names or whose role any of them asks for; ``_admits`` (the
    rule ``may_complete`` applies) then sorts them out per task, so the three agree by construction.
    """
    wanted = {task.id: stored(task) for task in tasks}
    if not wanted:
        return {}
    named = {user_id for found in wanted.values() for user_id in (*found.user_ids, found.assignee_id) if user_id}
    # One clause per distinct (roles, unit) the tasks ask for: an inbox has few, however many tasks.
    asked = {(found.roles, found.department_id) for found in wanted.values() if found.roles}
    in_roles = [
        and_(
            User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles))),
            true() if department_id is None else User.department_id == department_id,
        )
        for roles, department_id in sorted(asked, key=repr)
    ]
    people = session.scalars(
        select(User).where(User.active.is_(True), or_(User.id.in_(named), *in_roles)).order_by(User.username)
    ).all()
    return {task_id: [user.username for user in people if _admits(found, user)] for task_id, found in wanted.items()}
