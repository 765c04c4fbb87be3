"""The measures library (制度库): propose a measure, find measures, adopt or repeal one, link its items.

Who may do what is ``permissions`` (``require_measure_proposer``, ``require_measure_adopter``); everyone
signed in reads the library. Every change is in the admin log as ``measure.<change>`` (target
``measure N``); linking an item, and adopting a measure, is also an event in each item's history
(``measure_linked``, ``measure_adopted``) so whoever reads the item, an auditor among them, sees it.
Those events leave the item's version (its ETag) alone: a review form open meanwhile stays valid.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.audit import admin_log, history
from engine.identity import permissions
from engine.identity.identity import department_by_code
from engine.items import items, workflow
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import Attachment, Item, Measure, MeasureItem, User, utcnow
from engine.store.text import Label

MAX_TITLE = 500
MAX_SUMMARY = 5000


class Kind(enum.StrEnum):
    RULE = "rule"
    CHECKLIST = "checklist"
    HANDBOOK = "handbook"
    LEDGER = "ledger"
    OTHER = "other"


class Status(enum.StrEnum):
    DRAFT = "draft"
    IN_FORCE = "in_force"
    REPEALED = "repealed"


KIND_LABELS: dict[str, Label] = {
    Kind.RULE: ("制度", "Rule"),
    Kind.CHECKLIST: ("清单", "Checklist"),
    Kind.HANDBOOK: ("手册", "Handbook"),
    Kind.LEDGER: ("台账", "Ledger"),
    Kind.OTHER: ("其他", "Other"),
}
STATUS_LABELS: dict[str, Label] = {
    Status.DRAFT: ("草案", "Draft"),
    Status.IN_FORCE: ("施行", "In force"),
    Status.REPEALED: ("废止", "Repealed"),
}
# Where a status may go: a draft is adopted or dropped, a rule in force is repealed; repealed is final.
MOVES = {Status.DRAFT: {Status.IN_FORCE, Status.REPEALED}, Status.IN_FORCE: {Status.REPEALED}}


@dataclass(frozen=True)
class NewMeasure:
    title: str
    kind: str
    department: str
    summary: str = ""
    items: tuple[int, ...] = ()
    document: int | None = None


@dataclass(frozen=True)
class MeasureFilter:
    q: str | None = None  # in the title or summary
    kind: str | None = None
    status: str | None = None
    department: str | None = None  # the owning unit's code


def _refuse(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _log(session: Session, user: User, change: str, measure: Measure, remote: str | None, **detail: object) -> None:
    admin_log.record(session, user.username, f"measure.{change}", f"measure {measure.id}", remote, **detail)


def _on_items(session: Session, user: User, measure: Measure, item_ids: Iterable[int], action: str) -> None:
    """An event in each item's history; the item is locked (its history is a chain) but its version stays."""
    for item_id in sorted(set(item_ids)):
        item = workflow.lock_item(session, item_id)
        history.record(
            session,
            item,
            actor=user.username,
            action=action,
            status_from=item.status,
            status_to=item.status,
            data={"measure": measure.id, "title": measure.title, "kind": measure.kind, "status": measure.status},
        )


def _document(session: Session, user: User, attachment_id: int | None) -> Attachment | None:
    """An evidence file the user may see (one of an item they may see), not removed, as the document."""
    if attachment_id is None:
        return None
    found = session.get(Attachment, attachment_id)
    readable = found is not None and (found.item_id is None or _visible(session, user, found.item_id))
    if found is None or found.removed_at is not None or not readable:
        raise _refuse("document", f"没有此文件 No file {attachment_id}")
    return found


def _visible(session: Session, user: User, item_id: int) -> bool:
    query = select(Item.id).where(Item.id == item_id, items.visible_clause(user))
    return session.scalar(query) is not None


def propose(session: Session, user: User, new: NewMeasure, remote: str | None = None) -> Measure:
    """A draft measure of the unit, linked to the items it comes from (each must be one the user sees)."""
    if new.kind not in set(Kind):
        raise _refuse("kind", "种类应为制度、清单、手册、台账或其他 Kind: rule, checklist, handbook, ledger or other")
    title = new.title.strip()
    if not title or len(title) > MAX_TITLE:
        raise _refuse("title", f"请填写名称（最多 {MAX_TITLE} 字） Give a title of at most {MAX_TITLE} characters")
    department = department_by_code(session, new.department)
    if department is None:
        raise _refuse("department", f"未知单位 Unknown unit {new.department!r}")
    permissions.require_measure_proposer(user, department.id)
    for item_id in new.items:
        if not _visible(session, user, item_id):
            raise _refuse("items", f"事项不存在 No item {item_id}")
    measure = Measure(
        title=title,
        kind=new.kind,
        department_id=department.id,
        status=Status.DRAFT,
        summary=new.summary,
        document=_document(session, user, new.document),
        proposed_by_id=user.id,
        proposed_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(measure)
    session.flush()
    _log(session, user, "propose", measure, remote, items=sorted(set(new.items)))
    _link(session, user, measure, new.items)
    return measure


def _link(session: Session, user: User, measure: Measure, item_ids: Iterable[int]) -> list[int]:
    linked = set(session.scalars(select(MeasureItem.item_id).where(MeasureItem.measure_id == measure.id)))
    added = sorted(set(item_ids) - linked)
    session.add_all(MeasureItem(measure_id=measure.id, item_id=item_id, linked_by_id=user.id) for item_id in added)
    session.flush()
    _on_items(session, user, measure, added, "measure_linked")
    return added


def link(session: Session, user: User, measure_id: int, item_ids: Iterable[int], remote: str | None = None) -> Measure:
    """Link more items the measure came from; linking one already linked changes nothing."""
    measure = get(session, measure_id)
    permissions.require_measure_proposer(user, measure.department_id)
    wanted = list(item_ids)
    for item_id in wanted:
        if not _visible(session, user, item_id):
            raise _refuse("items", f"事项不存在 No item {item_id}")
    added = _link(session, user, measure, wanted)
    if added:
        measure.updated_at = utcnow()
        _log(session, user, "link", measure, remote, items=added)
    return measure


def set_document(
    session: Session, user: User, measure_id: int, attachment_id: int | None, remote: str | None = None
) -> Measure:
    measure = get(session, measure_id)
    permissions.require_measure_proposer(user, measure.department_id)
    measure.document = _document(session, user, attachment_id)
    measure.updated_at = utcnow()
    _log(session, user, "document", measure, remote, document=attachment_id)
    return measure


def set_status(
    session: Session, user: User, measure_id: int, status: str, on: dt.date, remote: str | None = None
) -> Measure:
    """Adopt (施行, from ``on``: the adoption date) or repeal (废止) a measure; approvers only."""
    permissions.require_measure_adopter(user)
    measure = session.scalars(select(Measure).where(Measure.id == measure_id).with_for_update(of=Measure)).one_or_none()
    if measure is None:
        raise NotFound(f"没有此制度性措施 No measure {measure_id}")
    if status not in MOVES.get(Status(measure.status), set()):
        now, wanted = STATUS_LABELS[measure.status], STATUS_LABELS.get(status, (status, status))
        raise _refuse("status", f"不能从{now[0]}改为{wanted[0]} A measure {now[1].lower()} cannot become {wanted[1]}")
    before, measure.status, measure.updated_at = measure.status, status, utcnow()
    if status == Status.IN_FORCE:
        measure.adopted_on = on
    else:
        measure.repealed_on = on
    _log(session, user, "adopt" if status == Status.IN_FORCE else "repeal", measure, remote, before=before, on=str(on))
    if status == Status.IN_FORCE:
        _on_items(session, user, measure, linked_items(session, measure), "measure_adopted")
    return measure


def get(session: Session, measure_id: int) -> Measure:
    found = session.get(Measure, measure_id)
    if found is None:
        raise NotFound(f"没有此制度性措施 No measure {measure_id}")
    return found


def document(session: Session, measure_id: int) -> Attachment:
    """A measure's document: whoever may read the library reads it, as the measure binds the whole office
    (even when the file came from an item the reader may not see)."""
    found = get(session, measure_id).document
    if found is None:
        raise NotFound(f"制度性措施 {measure_id} 没有制度文件 Measure {measure_id} has no document")
    return found


def linked_items(session: Session, measure: Measure) -> list[int]:
    query = select(MeasureItem.item_id).where(MeasureItem.measure_id == measure.id).order_by(MeasureItem.item_id)
    return list(session.scalars(query))


def items_of(session: Session, user: User, measure: Measure) -> list[Item]:
    """The measure's items that ``user`` may see (the others are not named to them)."""
    query = (
        select(Item)
        .join(MeasureItem, MeasureItem.item_id == Item.id)
        .where(MeasureItem.measure_id == measure.id, items.visible_clause(user))
        .order_by(Item.id)
    )
    return list(session.scalars(query))


def of_item(session: Session, item_id: int) -> list[Measure]:
    query = select(Measure).join(MeasureItem).where(MeasureItem.item_id == item_id).order_by(Measure.id)
    return list(session.scalars(query))


def search(session: Session, flt: MeasureFilter) -> list[Measure]:
    """The library, newest first: title or summary containing ``q`` (any case), by kind, status and unit."""
    query = select(Measure)
    if flt.q and flt.q.strip():
        pattern = f"%{flt.q.strip()}%"
        query = query.where(or_(Measure.title.ilike(pattern), Measure.summary.ilike(pattern)))
    if flt.kind:
        query = query.where(Measure.kind == flt.kind)
    if flt.status:
        query = query.where(Measure.status == flt.status)
    if flt.department:
        department = department_by_code(session, flt.department)
        query = query.where(Measure.department_id == (department.id if department else -1))
    return list(session.scalars(query.order_by(Measure.id.desc())))


def item_counts(session: Session, measures: list[Measure]) -> dict[int, int]:
    """How many items each measure came from (all of them: a count names no item)."""
    if not measures:
        return {}
    query = (
        select(MeasureItem.measure_id, func.count())
        .where(MeasureItem.measure_id.in_([m.id for m in measures]))
        .group_by(MeasureItem.measure_id)
    )
    return {measure_id: int(count) for measure_id, count in session.execute(query)}


def prefill(item: Item) -> NewMeasure:
    """A measure proposed from an item, as the form first shows it: the item's unit, a rule named after it."""
    return NewMeasure(title=item.title, kind=Kind.RULE, department=item.department.code, items=(item.id,))
