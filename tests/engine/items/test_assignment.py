"""engine.items.assignment without HTTP: the lane rules, and the three twins that must never disagree.

``may_complete`` (Python, checked on every completion), ``inbox_clause`` (SQL, the inbox) and
``candidate_usernames`` (SQL, shown on each task) answer the same question three ways.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.lanes import LaneRule
from engine.identity.identity import add_user, department_by_code, user_by_username
from engine.items import assignment, workflow
from engine.items.assignment import Candidates
from engine.store.models import Item, Task, User
from tests.conftest import People


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    """The cast, plus people at the edges: inactive, unit-less, role-less, in two roles."""
    with sessions() as session:
        add_user(session, "retired_manager", "office", ["manager"]).active = False
        add_user(session, "retired_approver", None, ["approver"]).active = False
        add_user(session, "nobody", None, [])
        add_user(session, "office_reporter_manager", "office", ["manager", "reporter"])
        add_user(session, "works_approver", "works", ["approver", "member"])
        session.flush()
        yield session
        session.rollback()


def user(session: Session, username: str) -> User:
    return user_by_username(session, username)


def new_item(session: Session, department: str, owner: str | None) -> Item:
    item = workflow.create_item(
        session,
        user(session, "reporter"),
        workflow.NewItem(title=f"{department}/{owner}", department=department),
        "Asia/Shanghai",
    )
    item.owner = user(session, owner) if owner else None
    session.flush()
    return item


def add_task(session: Session, item: Item, candidates: Candidates, name: str) -> Task:
    task = Task(item_id=item.id, spiff_id=str(uuid.uuid4()), name=name, title=name, lane=None, state="ready")
    assignment.apply(task, candidates)
    session.add(task)
    session.flush()
    return task


def everyone(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def may(session: Session, task: Task) -> list[str]:
    """Who may complete the task, by the Python rule."""
    return sorted(u.username for u in everyone(session) if assignment.may_complete(u, task))


def listed(session: Session, task: Task) -> list[str]:
    """Who the task shows as candidates (sorted here: the database's collation is not Python's)."""
    return sorted(assignment.candidate_usernames(session, task))


# --- the rules, as the diagram's lanes use them -----------------------------------------------------------------------


def resolve(session: Session, rule: str, item: Item, unit: str = "works", actor: str | None = None) -> Candidates:
    """A rule's candidates for a task working on ``unit`` (multi-instance), made ready by ``actor``."""
    actor_id = user(session, actor).id if actor else None
    return assignment.resolve(rule, assignment.Context(session, item, {"unit": unit}, actor_id))


RULE_CASES = [
    ("department_managers", "office", "owner", ["manager", "office_reporter_manager"]),
    ("department_managers", "works", "outsider", ["works_manager"]),
    ("department_members", "office", None, ["manager", "office_reporter_manager", "owner", "owner_approver"]),
    ("department_members", "works", None, ["outsider", "works_approver", "works_manager"]),
    ("owner", "office", "owner", ["owner"]),
    ("owner", "office", "owner_approver", ["owner_approver"]),
    ("owner", "office", None, []),
    ("owner", "office", "retired_manager", []),
    ("approvers", "office", "owner", ["approver", "approver2", "owner_approver", "works_approver"]),
    ("approvers", "office", "owner_approver", ["approver", "approver2", "works_approver"]),
    ("approvers", "works", "works_approver", ["approver", "approver2", "owner_approver"]),
    ("approvers", "office", None, ["approver", "approver2", "owner_approver", "works_approver"]),
    ("unit_members", "office", None, ["outsider", "works_approver", "works_manager"]),
    (
        "independent_approvers",
        "office",
        "owner_approver",
        ["approver", "approver2", "owner_approver", "works_approver"],
    ),
]


def test_independent_approvers_never_include_whoever_made_the_review_ready(session: Session) -> None:
    item = new_item(session, "office", None)
    task = add_task(session, item, resolve(session, "independent_approvers", item, actor="approver2"), "review")
    assert listed(session, task) == ["approver", "owner_approver", "works_approver"]
    assert not assignment.may_complete(user(session, "approver2"), task)


def test_a_unit_that_does_not_exist_makes_a_task_nobody_may_complete(session: Session) -> None:
    item = new_item(session, "office", None)
    task = add_task(session, item, resolve(session, "unit_members", item, unit="nowhere"), "unit")
    assert may(session, task) == listed(session, task) == []


@pytest.mark.parametrize(("rule", "department", "owner", "expected"), RULE_CASES)
def test_each_rule_names_exactly_the_right_people(
    session: Session, rule: str, department: str, owner: str | None, expected: list[str]
) -> None:
    item = new_item(session, department, owner)
    task = add_task(session, item, resolve(session, rule, item), rule)
    assert may(session, task) == expected
    assert listed(session, task) == expected
    inbox = {u.username for u in everyone(session) if task.id in inbox_ids(session, u)}
    assert sorted(inbox) == expected


def test_the_owner_is_never_an_approver_of_his_own_item(session: Session) -> None:
    item = new_item(session, "office", "owner_approver")
    task = add_task(session, item, resolve(session, "approvers", item), "review")
    owner_approver = user(session, "owner_approver")
    assert not assignment.may_complete(owner_approver, task)
    assert task.id not in inbox_ids(session, owner_approver)
    assert "owner_approver" not in listed(session, task)
    assert assignment.may_complete(user(session, "approver"), task)


def test_a_deactivated_user_may_complete_nothing_and_has_an_empty_inbox(session: Session) -> None:
    manager = user(session, "manager")
    item = new_item(session, "office", "manager")
    tasks = [add_task(session, item, resolve(session, rule, item), rule) for rule in assignment.RULES]
    assert {t.name for t in tasks if assignment.may_complete(manager, t)} == {
        "department_managers",
        "department_members",
        "owner",
    }
    manager.active = False
    session.flush()
    assert [t.name for t in tasks if assignment.may_complete(manager, t)] == []
    assert inbox_ids(session, manager) == set()
    assert all("manager" not in listed(session, t) for t in tasks)


# --- delegation: who may hand a task on, and to whom ------------------------------------------------------------------

OFFICE_PEOPLE = ["manager", "office_reporter_manager", "owner", "owner_approver"]
WORKS_PEOPLE = ["outsider", "works_approver", "works_manager"]
# For an office item whose owner is "owner"; unit rules work on the works unit, the review was made ready by manager.
DELEGATION = {
    LaneRule.DEPARTMENT_MANAGERS: (["manager", "office_reporter_manager"], OFFICE_PEOPLE),
    LaneRule.DEPARTMENT_MEMBERS: (["manager", "office_reporter_manager"], OFFICE_PEOPLE),
    LaneRule.UNIT_MANAGERS: (["works_manager"], WORKS_PEOPLE),
    LaneRule.UNIT_MEMBERS: (["works_manager"], WORKS_PEOPLE),
    # The other rules name people for what they are: their tasks are never handed on, by anyone, to anyone.
    LaneRule.OWNER: ([], []),
    LaneRule.APPROVERS: ([], []),
    LaneRule.INDEPENDENT_APPROVERS: ([], []),
}


def test_delegation_covers_every_lane_rule() -> None:
    assert set(DELEGATION) == set(LaneRule) == set(assignment.RULES)


@pytest.mark.parametrize("rule", list(LaneRule))
def test_who_may_delegate_each_rule_and_to_whom(session: Session, rule: LaneRule) -> None:
    item = new_item(session, "office", "owner")
    task = add_task(session, item, resolve(session, rule, item, unit="works", actor="manager"), rule)
    people = everyone(session)
    delegators = sorted(u.username for u in people if assignment.may_delegate(u, task, rule))
    receivers = sorted(u.username for u in people if assignment.may_receive(u, task, rule))
    assert (delegators, receivers) == DELEGATION[rule]
    # Whoever may hand the task on may complete it himself; whoever receives it is of the task's unit.
    assert all(assignment.may_complete(user(session, name), task) for name in delegators)


def test_whom_a_unit_task_excludes_neither_hands_it_on_nor_receives_it(session: Session) -> None:
    item = new_item(session, "office", "owner")
    manager, owner = user(session, "manager"), user(session, "owner")
    excluded = Candidates(roles=("manager",), department_id=item.department_id, excluded_user_id=manager.id)
    task = add_task(session, item, excluded, "excluded")
    assert not assignment.may_delegate(manager, task, LaneRule.DEPARTMENT_MANAGERS)
    assert not assignment.may_receive(manager, task, LaneRule.DEPARTMENT_MANAGERS)
    assert assignment.may_receive(owner, task, LaneRule.DEPARTMENT_MANAGERS)


# --- the twins agree on a grid ----------------------------------------------------------------------------------------


def inbox_ids(session: Session, who: User) -> set[int]:
    return set(session.scalars(select(Task.id).where(assignment.inbox_clause(who))))


def grid(session: Session) -> list[Task]:
    """Every rule on items of both units with various owners, plus hand-made candidate sets."""
    ids = {u.username: u.id for u in everyone(session)}
    department = department_by_code(session, "office")
    assert department is not None
    office = department.id
    items = [
        new_item(session, department, owner)
        for department, owner in [
            ("office", None),
            ("office", "owner"),
            ("office", "owner_approver"),
            ("works", "outsider"),
            ("works", "works_approver"),
            ("office", "retired_manager"),
        ]
    ]
    tasks = [
        add_task(session, item, resolve(session, rule, item), rule)
        for item, rule in itertools.product(items, assignment.RULES)
    ]
    handmade = [
        Candidates(),
        Candidates(roles=("approver",), department_id=office),
        Candidates(roles=("manager", "member", "approver")),
        Candidates(roles=("reporter",), excluded_user_id=ids["reporter"]),
        Candidates(assignee_id=ids["approver"], excluded_user_id=ids["approver"]),
        Candidates(roles=("manager",), department_id=office, assignee_id=ids["outsider"]),
        Candidates(roles=("manager",), department_id=office, excluded_user_id=ids["manager"]),
        Candidates(roles=("auditor",), assignee_id=ids["retired_manager"]),
        Candidates(roles=("admin", "designer")),
        Candidates(roles=("member",), department_id=office, assignee_id=ids["nobody"], excluded_user_id=ids["owner"]),
    ]
    tasks += [add_task(session, items[0], c, f"handmade-{n}") for n, c in enumerate(handmade)]
    # The tasks create_item opened on its own (define_measures) belong to the grid too.
    return list(session.scalars(select(Task).order_by(Task.id)))


def test_may_complete_and_the_inbox_agree_for_every_user_and_task(session: Session) -> None:
    tasks = grid(session)
    users = everyone(session)
    assert (len(tasks), len(users)) == (6 * len(assignment.RULES) + 16, 16)
    for who in users:
        expected = {t.id for t in tasks if assignment.may_complete(who, t)}
        assert inbox_ids(session, who) == expected, who.username


def test_may_complete_and_the_listed_candidates_agree_for_every_task(session: Session) -> None:
    tasks = grid(session)
    for task in tasks:
        assert listed(session, task) == may(session, task), (task.name, task.item_id)


def test_the_grid_is_not_trivial(session: Session) -> None:
    """Guards the two tests above: the grid has tasks nobody, one person and many people may complete."""
    sizes = {len(may(session, task)) for task in grid(session)}
    assert 0 in sizes and 1 in sizes and max(sizes) >= 4
