"""camunda:candidateGroups, camunda:candidateUsers and camunda:assignee, without HTTP.

Who may complete a task the diagram names people for, by all three twins (``may_complete``, the inbox,
``candidate_usernames``); what lint refuses, naming the element; an expression failing when its task is
reached is an incident of the item that an admin retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.aspects import Aspect
from engine.bpmn.bundle import Bundle, from_folder
from engine.bpmn.diff import compare
from engine.bpmn.lint import lint
from engine.identity.identity import add_department, add_user, user_by_username
from engine.items import assignment, corrections, delegation, incidents, items, workflow
from engine.store.config import REPO_ROOT
from engine.store.errors import Forbidden
from engine.store.models import Item, Task, User
from tests.conftest import People

EXAMPLES = REPO_ROOT / "processes" / "examples"
EXAMPLE = EXAMPLES / "camunda_assignment.bpmn"
KEY = "camunda_assignment"
MIWG = REPO_ROOT.parent / "shared" / "data" / "bpmn-miwg"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def example(**attributes: dict[str, str | None]) -> bytes:
    """The example diagram with the Camunda attributes of some tasks replaced (None: removed)."""
    root = etree.fromstring(EXAMPLE.read_bytes())
    for element, changes in attributes.items():
        (node,) = root.xpath("//*[@id=$id]", id=element)
        for name, value in changes.items():
            node.attrib.pop(f"{CAMUNDA}{name}", None)
            if value is not None:
                node.set(f"{CAMUNDA}{name}", value)
    return etree.tostring(root)


def forms() -> dict[str, bytes]:
    return dict(from_folder(EXAMPLE, EXAMPLES / "forms").forms)


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        add_department(session, "audit", "审计科")
        add_user(session, "audit_manager", "audit", ["manager"])
        session.flush()
        yield session
        session.rollback()


def user(session: Session, username: str) -> User:
    return user_by_username(session, username)


def start(session: Session, content: bytes | None = None, department: str = "office") -> Item:
    deploy.deploy(session, Bundle(content or EXAMPLE.read_bytes(), forms()), actor=None)
    new = workflow.NewItem(title="窗口服务排队时间长", department=department, process=KEY)
    return workflow.create_item(session, user(session, "reporter"), new, "Asia/Shanghai")


def live(session: Session, item: Item) -> Task:
    (task,) = items.live_tasks(session, item)
    return task


def who(session: Session, task: Task) -> list[str]:
    """Who may complete the task, asked three ways that must agree."""
    everyone = list(session.scalars(select(User).order_by(User.username)))
    may = sorted(u.username for u in everyone if assignment.may_complete(u, task))
    inbox = sorted(u.username for u in everyone if task in items.inbox(session, u, dt.date.today())[0])
    assert may == inbox == sorted(assignment.candidate_usernames(session, task))
    return may


def complete(session: Session, task: Task, username: str, data: dict[str, object]) -> Item:
    return workflow.complete_task(session, user(session, username), task.id, data)


# --- who may act ------------------------------------------------------------------------------------------------------


def test_the_example_runs_with_each_task_completed_by_exactly_the_people_it_names(session: Session) -> None:
    item = start(session)
    triage = live(session, item)
    assert (triage.name, who(session, triage)) == ("triage", ["manager"])  # managers of the lead unit, office
    item = complete(session, triage, "manager", {"reviewers": ["owner", "outsider"], "approver": "approver2"})
    check = live(session, item)
    # Candidate users, whatever their unit.
    assert (check.name, who(session, check)) == ("check", ["outsider", "owner"])
    item = complete(session, check, "outsider", {"findings": "已整改"})
    sign_off = live(session, item)
    assert (sign_off.name, who(session, sign_off)) == ("sign_off", ["approver2"])  # not every approver
    assert user(session, "approver2").id == sign_off.assignee_id
    item = complete(session, sign_off, "approver2", {})
    assert (item.status, items.live_tasks(session, item)) == ("closed", [])


@pytest.mark.parametrize(
    ("groups", "department", "expected"),
    [
        ("manager:lead-unit, member:lead-unit", "works", ["outsider", "works_manager"]),
        ("manager:audit", "office", ["audit_manager"]),
        ("manager:nowhere", "office", []),  # a unit that does not exist admits nobody, not every manager
        ("approver, auditor", "office", ["approver", "approver2", "auditor", "owner_approver"]),
    ],
)
def test_candidate_groups_are_roles_in_a_unit_or_anywhere(
    session: Session, groups: str, department: str, expected: list[str]
) -> None:
    item = start(session, example(triage={"candidateGroups": groups}), department)
    assert who(session, live(session, item)) == expected


def test_groups_users_and_assignee_together_admit_each_of_them(session: Session) -> None:
    # A username that is no user admits nobody (Camunda does not check them either).
    named = {"candidateGroups": "auditor", "candidateUsers": "owner, outsider, ghost", "assignee": "admin"}
    task = live(session, start(session, example(triage=named)))
    assert who(session, task) == ["admin", "auditor", "outsider", "owner"]


def test_a_task_naming_people_is_not_handed_on_within_a_unit(session: Session) -> None:
    task = live(session, start(session))
    with pytest.raises(Forbidden, match="names its people in the diagram"):
        delegation.require_delegator(session, user(session, "manager"), task.id)


def test_a_corrected_lead_unit_takes_a_lead_unit_task_along(session: Session) -> None:
    item = start(session)
    fix = corrections.Correction(reason="登记错了单位", department="works")
    corrections.correct(session, user(session, "admin"), item.id, fix, "Asia/Shanghai")
    assert who(session, live(session, item)) == ["works_manager"]


# --- an expression failing when its task is reached -------------------------------------------------------------------


def test_an_assignee_expression_that_fails_is_an_incident_an_admin_retries(session: Session) -> None:
    item = start(session, example(triage={"candidateGroups": None, "assignee": "${approver_of[department]}"}))
    incident = incidents.current(session, item)
    assert incident is not None and incident.element == "triage"
    assert "approver_of" in incident.message and "NameError" in incident.message
    assert items.live_tasks(session, item) == []  # nobody sees a task whose people are unknown

    retried = workflow.retry_incident(
        session, user(session, "admin"), item.id, incident.id, {"approver_of": {"office": "approver2"}}
    )
    assert retried.resolved_at is not None
    assert who(session, live(session, item)) == ["approver2"]


@pytest.mark.parametrize(
    ("attribute", "expression", "words"),
    [
        ("assignee", "${42}", "yields int"),
        ("assignee", "${[department, 'works']}", "an assignee is one person"),
        ("candidateUsers", "${None}", "yields NoneType"),
        ("candidateUsers", "${1 / 0}", "ZeroDivisionError"),
    ],
)
def test_an_expression_naming_no_usernames_fails_its_step(
    session: Session, attribute: str, expression: str, words: str
) -> None:
    item = start(session, example(triage={"candidateGroups": None, attribute: expression}))
    incident = incidents.current(session, item)
    assert incident is not None and incident.element == "triage"
    assert words in incident.message


# --- deploy-time checks, each naming its element ----------------------------------------------------------------------


def errors(content: bytes, with_forms: bool = True) -> list[tuple[str, str]]:
    return [(p.element, p.code) for p in lint(content, forms() if with_forms else {}) if p.severity == "error"]


@pytest.mark.parametrize(
    ("attributes", "code", "words"),
    [
        ({"candidateGroups": "accounting"}, "assignment-invalid", "Unknown role 'accounting'"),
        ({"candidateGroups": "manager:lead-unit, approver"}, "assignment-invalid", "different units"),
        ({"candidateGroups": "manager:"}, "assignment-invalid", "names no unit"),
        ({"candidateGroups": "${groups}"}, "assignment-invalid", "not an expression"),
        ({"candidateUsers": "${reviewers +}"}, "expression-syntax", "Invalid Python expression"),
        ({"assignee": "${open('/etc/passwd')}"}, "expression-refused", "not allowed"),
        ({"assignee": "user-${approver}"}, "assignment-invalid", "whole attribute"),
        ({"assignee": "approver, approver2"}, "assignment-invalid", "one username"),
        ({"candidateUsers": "zhang san"}, "assignment-invalid", "not a username"),
    ],
)
def test_lint_refuses_attributes_that_cannot_be_honoured(attributes: dict[str, str], code: str, words: str) -> None:
    problems = [p for p in lint(example(triage={"candidateGroups": None, **attributes}), forms()) if p.code == code]
    assert [p.element for p in problems] == ["triage"]
    assert words in problems[0].message


def test_a_user_task_naming_nobody_is_still_refused_naming_it() -> None:
    root = etree.fromstring(example(triage={"candidateGroups": None}))
    assert errors(etree.tostring(root)) == [("office", "lane-rule-unknown")]  # the lane is no rule either
    for lane in root.iter(f"{BPMN}laneSet"):
        lane.getparent().remove(lane)
    assert errors(etree.tostring(root)) == [("triage", "lane-missing")]


def test_tasks_naming_people_need_no_lane_and_the_activiti_namespace_counts() -> None:
    root = etree.fromstring(EXAMPLE.read_bytes())
    for lane in root.iter(f"{BPMN}laneSet"):
        lane.getparent().remove(lane)
    assert errors(etree.tostring(root)) == []
    # Camunda reads its attributes in the namespace of Activiti too, as the Camunda 7 example C.1.0 is written.
    legacy = etree.tostring(root).replace(b"http://camunda.org/schema/1.0/bpmn", b"http://activiti.org/bpmn")
    assert ("triage", "lane-missing") not in errors(legacy)


def miwg(name: str) -> bytes:
    path = MIWG / name
    if not path.is_file():
        pytest.fail(f"the BPMN MIWG reference models are not at {MIWG}")
    return path.read_bytes()


def test_miwg_c_1_0_is_refused_only_for_what_is_not_about_lanes() -> None:
    """Its tasks name people (in the Activiti namespace); a 'accounting' group, JUEL conditions and a service
    task remain, which Rectiflow does not run."""
    found = errors(miwg("C.1.0.bpmn"), with_forms=False)
    assert not [code for _, code in found if code.startswith("lane-")]
    assert ("prepareBankTransfer", "assignment-invalid") in found
    # Its service task is no external one.
    assert {code for _, code in found} == {"assignment-invalid", "expression-syntax", "unsupported-element"}


@pytest.mark.parametrize(
    ("name", "tasks"),
    [
        (
            "C.3.0.bpmn",
            [
                "_c73a5f4a-72f1-4e11-bb40-2f98da75fb9a",
                "_a92069f7-377b-4dbd-a1fd-1da071aabf6d",
                "_d034722f-751d-4f37-a3d7-47993822e979",
                "_6a34496f-8cf7-42e5-88a9-d1af98cc3cba",
            ],
        ),
        ("C.9.1.bpmn", ["UserTask_CallCustomer"]),
    ],
)
def test_miwg_lane_less_tasks_naming_nobody_are_refused_naming_each(name: str, tasks: list[str]) -> None:
    found = errors(miwg(name), with_forms=False)
    assert [element for element, code in found if code == "lane-missing"] == tasks


def test_a_deployed_task_naming_people_has_no_lane_rule(session: Session) -> None:
    definition, _ = deploy.deploy(session, Bundle(EXAMPLE.read_bytes(), forms()), actor=None)
    triage = definition.model["tasks"]["triage"]
    assert (triage["candidates"], triage["people"]["roles"], triage["people"]["unit"]) == ("", ["manager"], "lead-unit")


def test_the_example_lints_clean() -> None:
    assert lint(EXAMPLE.read_bytes(), forms()) == []


def test_a_version_diff_says_how_the_people_a_task_names_changed(session: Session) -> None:
    before, _ = deploy.deploy(session, Bundle(EXAMPLE.read_bytes(), forms()), actor=None)
    after, _ = deploy.deploy(session, Bundle(example(sign_off={"assignee": "${reviewers}"}), forms()), actor=None)
    (changed,) = compare(before, after).changed
    assert changed.id == "sign_off"
    assert (Aspect.CANDIDATES, "assignee=${approver}", "assignee=${reviewers}") in [
        (change.aspect, change.before, change.after) for change in changed.changes
    ]
