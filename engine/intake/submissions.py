"""Raising a submission, and reading submissions back: the triage queue, one's own, a public receipt.

A submission's text is plain text, stored as given: every page and export escapes it, nothing renders
it as HTML. Control characters other than tab and line breaks are refused (they hide text and break
exports), as is text longer than :data:`MAX_TEXT`.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity import permissions
from engine.identity.identity import Role, department_by_code
from engine.items import sources
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import Submission, User, utcnow
from engine.store.text import Label, unstorable

MAX_TEXT = 5000
MAX_CONTACT = 200
# Text keeps its layout: tab and line breaks are the control characters it may hold.
_LAYOUT = frozenset("\t\n\r")


class Kind(enum.StrEnum):
    PROBLEM = "problem"
    SUGGESTION = "suggestion"


class Status(enum.StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    MERGED = "merged"
    DECLINED = "declined"


KIND_LABELS: dict[str, Label] = {Kind.PROBLEM: ("问题", "Problem"), Kind.SUGGESTION: ("建议", "Suggestion")}
STATUS_LABELS: dict[str, Label] = {
    Status.NEW: ("待处理", "Awaiting triage"),
    Status.ACCEPTED: ("已立项", "Accepted as an item"),
    Status.MERGED: ("已并入事项", "Merged into an item"),
    Status.DECLINED: ("未采纳", "Declined"),
}
# Outcomes that made (or joined) an item.
BECAME_ITEMS = (Status.ACCEPTED, Status.MERGED)


@dataclass(frozen=True)
class NewSubmission:
    kind: str
    text: str
    source: str
    department: str
    contact: str | None = None


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def control_character(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def _checked(session: Session, new: NewSubmission) -> tuple[str, str | None, int]:
    """The text and contact as they will be stored, and the unit's id; each fault names its field."""
    if new.kind not in set(Kind):
        raise _refuse("kind", "类型应为问题或建议 Kind must be problem or suggestion")
    text = new.text
    if not text.strip():
        raise _refuse("text", "请填写内容 Write what the problem or suggestion is")
    if len(text) > MAX_TEXT:
        raise _refuse("text", f"最多 {MAX_TEXT} 字 At most {MAX_TEXT} characters")
    if unstorable(text) or control_character(text, _LAYOUT):
        raise _refuse("text", "内容含有控制字符 The text holds control characters")
    contact = (new.contact or "").strip() or None
    if contact is not None and (len(contact) > MAX_CONTACT or unstorable(contact) or control_character(contact)):
        raise _refuse("contact", f"联系方式最多 {MAX_CONTACT} 字，单行 Contact: one line, at most {MAX_CONTACT}")
    if new.source not in sources.active(session):
        raise _refuse("source", f"未知问题来源 Unknown source: one of {'、'.join(sources.active(session))}")
    department = department_by_code(session, new.department)
    if department is None:
        raise _refuse("department", f"未知单位 Unknown department {new.department!r}")
    return text, contact, department.id


def raise_signed_in(session: Session, user: User, new: NewSubmission) -> Submission:
    """Any signed-in person raises a submission; they follow it under "mine"."""
    text, contact, department_id = _checked(session, new)
    row = Submission(
        kind=new.kind,
        text=text,
        source=new.source,
        department_id=department_id,
        contact=contact,
        raised_by_id=user.id,
        raised_at=utcnow(),
        status=Status.NEW,
    )
    session.add(row)
    session.flush()
    return row


def raise_public(session: Session, new: NewSubmission, address_hash: str) -> tuple[Submission, str]:
    """A submission through the public form, and its receipt code (shown once; only its hash is kept)."""
    text, contact, department_id = _checked(session, new)
    receipt = secrets.token_urlsafe(18)
    row = Submission(
        kind=new.kind,
        text=text,
        source=new.source,
        department_id=department_id,
        contact=contact,
        raised_at=utcnow(),
        address_hash=address_hash,
        receipt_hash=receipt_hash(receipt),
        status=Status.NEW,
    )
    session.add(row)
    session.flush()
    return row, receipt


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.encode()).hexdigest()


def by_receipt(session: Session, receipt: str) -> Submission:
    found = session.scalar(select(Submission).where(Submission.receipt_hash == receipt_hash(receipt)))
    if found is None:
        raise NotFound("没有此回执 No submission has this receipt code")
    return found


def mine(session: Session, user: User) -> list[Submission]:
    query = select(Submission).where(Submission.raised_by_id == user.id).order_by(Submission.id.desc())
    return list(session.scalars(query))


def queue(session: Session, user: User, status: str | None) -> list[Submission]:
    """The submissions the user triages (the office: all; a manager: their unit's), oldest first."""
    permissions.require_triager(user)
    query = select(Submission).order_by(Submission.id)
    if Role.REPORTER not in user.roles:
        query = query.where(Submission.department_id == user.department_id)
    if status is not None:
        query = query.where(Submission.status == status)
    return list(session.scalars(query))


def get_for_triage(session: Session, user: User, submission_id: int) -> Submission:
    """One the user may triage; one they may not is 403 (the queue does not hide that it exists)."""
    found = session.get(Submission, submission_id)
    if found is None:
        raise NotFound(f"没有反映 No submission {submission_id}")
    permissions.require_triager(user, found.department_id)
    return found


def reads_files(session: Session, user: User, submission_id: int) -> bool:
    """A submission's files are read by who raised it (signed in) and who triages it; never the public."""
    found = session.get(Submission, submission_id)
    if found is None:
        return False
    return found.raised_by_id == user.id or permissions.may_triage(user, found.department_id)


def first_line(text: str, limit: int = 500) -> str:
    """An item's title from a submission: its first non-blank line, cut to the title's length."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line[:limit]
