"""Deadline extensions (延期): the owner asks for a new date with a reason, an approver grants or refuses.

A granted extension moves the item's deadline and its diagram's timers with it; every step is in
the item's history, and the people concerned are notified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.bpmn.instance import set_variable
from engine.identity.identity import Role
from engine.items import notifications
from engine.items.workflow import DEADLINE_VARIABLE, lock_item, open_item, store_timers
from engine.store import clock
from engine.store.errors import Forbidden, InvalidInput, NotFound
from engine.store.models import ExtensionRequest, Item, User, utcnow


@dataclass(frozen=True)
class Decision:
    grant: bool
    comment: str | None = None


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def require_requester(user: User, item: Item) -> None:
    """Only the item's owner asks for more time."""
    if item.owner_id != user.id:
        raise Forbidden("只有责任人可以申请延期 Only the item's owner may request an extension")


def require_decider(user: User, request: ExtensionRequest) -> None:
    """Approvers decide, never on their own request."""
    if Role.APPROVER not in user.roles or request.requested_by_id == user.id:
        raise Forbidden("只有审核人可以审批延期 Only an approver other than the requester decides")


def require_extendable(session: Session, item: Item) -> None:
    """An item has a deadline to move: open, not ongoing, and no request already waiting for a decision."""
    if item.closed_at is not None or item.ongoing:
        raise _invalid(
            "new_deadline", "已销号或长期坚持的事项不能延期 A closed or ongoing item has no deadline to move"
        )
    if pending_for(session, item) is not None:
        raise _invalid("new_deadline", "已有待审批的延期申请 An extension request is already pending")


def pending_for(session: Session, item: Item) -> ExtensionRequest | None:
    """The item's request waiting for a decision (at most one)."""
    query = select(ExtensionRequest).where(ExtensionRequest.item_id == item.id, ExtensionRequest.state == "pending")
    return session.scalar(query)


def pending(session: Session) -> list[tuple[ExtensionRequest, Item]]:
    """Every request waiting for a decision with its item, oldest first."""
    query = select(ExtensionRequest, Item).join(Item, Item.id == ExtensionRequest.item_id)
    query = query.where(ExtensionRequest.state == "pending")
    query = query.order_by(ExtensionRequest.requested_at, ExtensionRequest.id)
    return [(found, item) for found, item in session.execute(query)]


def request(
    session: Session, actor: User, item: Item, new_deadline: dt.date, reason: str, today: dt.date
) -> ExtensionRequest:
    item = lock_item(session, item.id)
    require_requester(actor, item)
    require_extendable(session, item)
    if new_deadline <= today or new_deadline == item.deadline:
        raise _invalid(
            "new_deadline", "新的整改时限须晚于今天且不同于现时限 The new deadline must be after today and differ"
        )
    found = ExtensionRequest(
        item_id=item.id,
        requested_by_id=actor.id,
        current_deadline=item.deadline,
        new_deadline=new_deadline,
        reason=reason,
    )
    session.add(found)
    session.flush()
    _record(session, item, actor, "extension_requested", found)
    notifications.extension_requested(session, item, found)
    return found


def decide(session: Session, actor: User, request_id: int, decision: Decision, timezone: str) -> ExtensionRequest:
    found = session.get(ExtensionRequest, request_id)
    if found is None:
        raise NotFound(f"延期申请不存在 No extension request {request_id}")
    require_decider(actor, found)
    item = lock_item(session, found.item_id)
    session.refresh(found)
    if found.state != "pending":
        raise _invalid("decision", "该申请已审批 This request was already decided")
    if not decision.grant and not (decision.comment or "").strip():
        # As a rejected review does, a refusal tells the owner why.
        raise _invalid("comment", "不同意延期须说明理由 A refusal needs a reason")
    found.state = "granted" if decision.grant else "refused"
    found.decided_by, found.decided_at, found.comment = actor, utcnow(), decision.comment
    if decision.grant:
        move_deadline(session, item, found.new_deadline, timezone)
    _record(session, item, actor, f"extension_{found.state}", found)
    notifications.extension_decided(session, item, found)
    return found


def move_deadline(session: Session, item: Item, deadline: dt.date | None, timezone: str) -> None:
    item.deadline = deadline
    definition, instance, workflow = open_item(session, item)
    set_variable(workflow, DEADLINE_VARIABLE, clock.deadline_end(deadline, timezone))
    store_timers(session, item, instance, definition, workflow)


def _record(session: Session, item: Item, actor: User, action: str, found: ExtensionRequest) -> None:
    history.record_change(
        session,
        item,
        actor=actor.username,
        action=action,
        data={
            "request": found.id,
            "current_deadline": found.current_deadline.isoformat() if found.current_deadline else None,
            "new_deadline": found.new_deadline.isoformat(),
            "reason": found.reason,
            "comment": found.comment,
        },
    )


def for_item(session: Session, item: Item) -> list[ExtensionRequest]:
    query = select(ExtensionRequest).where(ExtensionRequest.item_id == item.id)
    return list(session.scalars(query.order_by(ExtensionRequest.id)))
