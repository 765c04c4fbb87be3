"""Triage (受理): a submission becomes a new item, joins an open one, or is declined with a reason; once.

Who triages is ``permissions.require_triager``. Accepting raises the item through
``workflow.create_item`` (its created event names the submission); merging records a
``submission_merged`` event on the item. Either way the submission's files become the item's evidence,
each an ``attachment_added`` event, within the item's limits as an upload's (else refused, nothing changed).
Each triage is in the admin log as ``submission.<outcome>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import admin_log, history
from engine.intake import files
from engine.intake.submissions import Status, first_line, get_for_triage
from engine.items import items, workflow
from engine.store import severity
from engine.store.config import EvidenceSettings
from engine.store.errors import AlreadyTriaged, InvalidInput
from engine.store.models import Submission, User, utcnow


@dataclass(frozen=True)
class Acceptance:
    """What the triager changes of the item prefilled from the submission (None: as prefilled)."""

    title: str | None = None
    department: str | None = None
    category: str | None = None
    severity: str = severity.DEFAULT
    deadline: dt.date | None = None


def _locked_new(session: Session, user: User, submission_id: int) -> Submission:
    """The submission, checked and then locked: a second triage, even a simultaneous one, is refused."""
    get_for_triage(session, user, submission_id)
    row = session.scalars(
        select(Submission)
        .where(Submission.id == submission_id)
        .with_for_update(of=Submission)
        .execution_options(populate_existing=True)
    ).one()
    if row.status != Status.NEW:
        raise AlreadyTriaged()
    return row


def _triaged(
    session: Session, user: User, row: Submission, status: Status, remote: str | None, **detail: object
) -> None:
    row.status, row.triaged_by_id, row.triaged_at = status, user.id, utcnow()
    admin_log.record(session, user.username, f"submission.{status}", f"submission {row.id}", remote, **detail)


def accept(
    session: Session,
    user: User,
    submission_id: int,
    change: Acceptance,
    timezone: str,
    limits: EvidenceSettings,
    remote: str | None = None,
) -> Submission:
    """A new item from the submission, its files the item's evidence within the item's limits."""
    row = _locked_new(session, user, submission_id)
    files.require_room(session, row, None, limits)
    new = workflow.NewItem(
        title=change.title or first_line(row.text),
        description=row.text,
        source=row.source,
        department=change.department or row.department.code,
        category=change.category,
        severity=change.severity,
        deadline=change.deadline,
        submission=row.id,
    )
    item = workflow.create_item(session, user, new, timezone)
    files.adopt(session, user, row, item)
    row.item = item
    _triaged(session, user, row, Status.ACCEPTED, remote, item=item.id)
    return row


def merge(
    session: Session, user: User, submission_id: int, item_id: int, limits: EvidenceSettings, remote: str | None = None
) -> Submission:
    """Join the submission to an open item the triager may see; the item's history records it. Refused, nothing
    changed, when its files would take the item over its limits."""
    row = _locked_new(session, user, submission_id)
    items.get_visible(session, user, item_id)
    item = workflow.lock_item(session, item_id)
    if item.closed_at is not None:
        message = "只能并入未办结的事项 Only an open item takes a submission"
        raise InvalidInput(message, errors=[{"field": "item", "message": message}])
    files.require_room(session, row, item, limits)
    history.record_change(
        session,
        item,
        actor=user.username,
        action="submission_merged",
        data={"submission": row.id, "kind": row.kind, "source": row.source},
    )
    files.adopt(session, user, row, item)
    row.item = item
    _triaged(session, user, row, Status.MERGED, remote, item=item.id)
    return row


def decline(session: Session, user: User, submission_id: int, reason: str, remote: str | None = None) -> Submission:
    if not reason.strip():
        raise InvalidInput(
            "请填写不予采纳的理由 Give a reason", errors=[{"field": "reason", "message": "请填写理由 Give a reason"}]
        )
    row = _locked_new(session, user, submission_id)
    row.reason = reason
    _triaged(session, user, row, Status.DECLINED, remote)
    return row
