"""Comparing two deployed versions of a process, and the running items a new version concerns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.aspects import Aspect, Change
from engine.bpmn.diff import ChangedElement, Element, Reason
from engine.bpmn.form_diff import form_changes
from engine.items import affected
from engine.store.errors import NotFound
from tests.conftest import People
from tests.redesign import PROCESSES, RENAMED, deploy_version, items_at_each_step, second_version

KEY = "rectification_item"
FORMS = PROCESSES / "forms"


@pytest.fixture
def session(sessions: sessionmaker[Session], people: People) -> Iterator[Session]:
    with sessions() as session:
        yield session
        session.rollback()


def changes(element: ChangedElement) -> list[tuple[str, str | None, Any, Any]]:
    return [(change.aspect, change.field, change.before, change.after) for change in element.changes]


def test_a_new_version_lists_what_it_adds_removes_and_changes_and_the_items_waiting_there(
    session: Session, tmp_path: Path
) -> None:
    waiting = items_at_each_step(session)
    deploy_version(session, second_version(tmp_path / "forms"), tmp_path / "forms")

    comparison = affected.compare_versions(session, KEY, 1, 2)
    diff = comparison.diff

    assert (diff.key, diff.before, diff.after) == (KEY, 1, 2)
    assert diff.added == (
        Element("site_check", "userTask", "现场核查 Site check"),
        Element("flow_check_to_closed", "sequenceFlow", ""),
    )
    assert diff.removed == (
        Element("deadline_overdue_watch", "subProcess", "逾期督办 Overdue escalation"),
        Element("deadline_overdue", "startEvent", "逾期 Overdue"),
        Element("overdue_escalated", "endEvent", "已督办 Escalated"),
        Element("flow_overdue", "sequenceFlow", ""),
    )
    assert {element.id: changes(element) for element in diff.changed} == {
        "reviewer": [("candidates", None, "approvers", "independent_approvers")],
        "rectify": [
            ("name", None, "整改落实 Rectify", RENAMED),
            ("field_limits", "evidence", {"maxLength": 5000}, {"maxLength": 2000}),
            ("field_required", "evidence", False, True),
        ],
        "deadline_warning": [("timer", None, "days_before(deadline_end, 3)", "days_before(deadline_end, 5)")],
        "review": [("candidates", None, "approvers", "independent_approvers")],
        "joint_review": [("candidates", None, "approvers", "independent_approvers")],
        # The second sign-off (head_review) stays as it was: severe items still go there, then close.
        "review_decision": [
            ("outgoing", None, ["closed", "head_review", "rectify"], ["head_review", "rectify", "site_check"])
        ],
        "closed": [
            (
                "incoming",
                None,
                ["head_decision", "joint_review_decision", "review_decision"],
                ["head_decision", "joint_review_decision", "site_check"],
            )
        ],
        "flow_approve": [("target", None, "closed", "site_check")],
    }
    # Every open item: the deadline watches changed (the warning's timer) and went (the overdue watch),
    # whatever step it waits at; at rectify its own changes too, at review who may act. Not the closed one.
    watches = (
        Reason("deadline_warning", "预警 Warning", False, (Aspect.TIMER,)),
        Reason("deadline_overdue_watch", "逾期督办 Overdue escalation", True, ()),
        Reason("deadline_overdue", "逾期 Overdue", True, ()),
        Reason("overdue_escalated", "已督办 Escalated", True, ()),
        Reason("flow_overdue", "flow_overdue", True, ()),
    )
    untouched = (("define_measures", "制定整改措施 Define measures"), ("assign_owner", "明确责任人 Assign owner"))
    assert [(item.item_id, item.title, item.element, item.name, item.reasons) for item in comparison.affected] == [
        *[(waiting[step], f"事项 at {step}", step, name, watches) for step, name in untouched],
        (
            waiting["rectify"],
            "事项 at rectify",
            "rectify",
            "整改落实 Rectify",
            (
                Reason("rectify", "整改落实 Rectify", False, (Aspect.NAME, Aspect.FIELD_LIMITS, Aspect.FIELD_REQUIRED)),
                *watches,
            ),
        ),
        (
            waiting["review"],
            "事项 at review",
            "review",
            "审核验收 Review",
            (Reason("review", "审核验收 Review", False, (Aspect.CANDIDATES,)), *watches),
        ),
    ]


def test_the_other_way_round_what_was_added_is_removed_and_items_of_the_newer_version_count(
    session: Session, tmp_path: Path
) -> None:
    deploy_version(session, second_version(tmp_path / "forms"), tmp_path / "forms")
    waiting = items_at_each_step(session)  # on version 2 now

    comparison = affected.compare_versions(session, KEY, 2, 1)

    assert [element.id for element in comparison.diff.added] == [
        "deadline_overdue_watch",
        "deadline_overdue",
        "overdue_escalated",
        "flow_overdue",
    ]
    assert [element.id for element in comparison.diff.removed] == ["site_check", "flow_check_to_closed"]
    assert [(item.item_id, item.element) for item in comparison.affected] == [
        (waiting["define_measures"], "define_measures"),  # the deadline watches concern every open item
        (waiting["assign_owner"], "assign_owner"),
        (waiting["rectify"], "rectify"),
        (waiting["review"], "review"),
        # Approved on version 2: waiting at the step version 1 does not have.
        (waiting["closed"], "site_check"),
    ]
    assert comparison.affected[-1].reasons == (
        Reason("site_check", "现场核查 Site check", True, ()),
        Reason("deadline_warning", "预警 Warning", False, (Aspect.TIMER,)),
    )


def test_an_element_whose_id_changed_is_paired_with_its_new_self_by_spiffworkflow(session: Session) -> None:
    waiting = items_at_each_step(session)
    content = (PROCESSES / "rectification_item.bpmn").read_text(encoding="utf-8")
    for reference in ('id="{}"', 'sourceRef="{}"', 'targetRef="{}"', 'bpmnElement="{}"', "<bpmn:flowNodeRef>{}<"):
        content = content.replace(reference.format("review"), reference.format("check"))
    deploy_version(session, content.encode(), FORMS)

    comparison = affected.compare_versions(session, KEY, 1, 2)

    # Not "review removed, check added": the same step under a new id, its flows unchanged.
    assert (comparison.diff.added, comparison.diff.removed) == ((), ())
    assert [(element.id, changes(element)) for element in comparison.diff.changed] == [
        ("check", [("id", None, "review", "check")])
    ]
    assert [(item.item_id, item.reasons) for item in comparison.affected] == [
        (waiting["review"], (Reason("review", "审核验收 Review", False, (Aspect.ID,)),))
    ]


def test_an_executable_change_no_aspect_names_is_still_reported(session: Session) -> None:
    content = (PROCESSES / "joint_stage.bpmn").read_text(encoding="utf-8")
    deploy_version(
        session, content.replace('camunda:elementVariable="unit"', 'camunda:elementVariable="part"').encode(), FORMS
    )

    diff = affected.compare_versions(session, "joint_stage", 1, 2).diff

    assert [(element.id, [c.aspect for c in element.changes]) for element in diff.changed] == [
        ("unit_contribution", [Aspect.EXECUTION])
    ]


def test_a_missing_version_is_named_as_from_or_to(session: Session) -> None:
    with pytest.raises(NotFound) as missing:
        affected.compare_versions(session, KEY, 7, 1)
    assert missing.value.errors[0]["field"] == "from"
    with pytest.raises(NotFound) as missing:
        affected.compare_versions(session, KEY, 1, 7)
    assert missing.value.errors[0]["field"] == "to"
    with pytest.raises(NotFound):
        affected.compare_versions(session, "no_such_process", 1, 2)


def test_a_form_is_compared_field_by_field() -> None:
    before = {
        "title": "审核验收 Review",
        "properties": {
            "decision": {"type": "string", "title": "审核结论", "enum": ["approve", "reject"]},
            "comment": {"type": "string", "title": "审核意见", "maxLength": 5000},
            "score": {"type": "integer", "title": "评分"},
        },
        "required": ["decision"],
    }
    after = {
        "title": "审核 Review",
        "properties": {
            "decision": {
                "type": "string",
                "title": "审核结论",
                "enum": ["approve", "reject", "defer"],
                "x-enum-labels": {"defer": "暂缓"},
            },
            "score": {"type": "number", "title": "得分", "minimum": 0},
            "photo": {"type": "string", "title": "照片"},
        },
        "required": ["decision", "score"],
        "if": {"properties": {"decision": {"const": "reject"}}},
        "then": {"required": ["photo"]},
    }

    assert form_changes(before, after) == [
        Change(Aspect.FIELD_REMOVED, "审核意见", None, "comment"),
        Change(Aspect.FIELD_CHOICES, ["approve", "reject"], ["approve", "reject", "defer"], "decision"),
        Change(Aspect.FIELD_LABELS, None, {"defer": "暂缓"}, "decision"),
        Change(Aspect.FIELD_TITLE, "评分", "得分", "score"),
        Change(Aspect.FIELD_TYPE, "integer", "number", "score"),
        Change(Aspect.FIELD_LIMITS, {}, {"minimum": 0}, "score"),
        Change(Aspect.FIELD_REQUIRED, False, True, "score"),
        Change(Aspect.FIELD_ADDED, None, "照片", "photo"),
        Change(Aspect.FORM_TITLE, "审核验收 Review", "审核 Review"),
        Change(
            Aspect.FORM_RULES,
            None,
            {"if": {"properties": {"decision": {"const": "reject"}}}, "then": {"required": ["photo"]}},
        ),
    ]
    assert form_changes(before, before) == []
