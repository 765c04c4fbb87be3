"""Incidents: a diagram's script, condition or timer expression failed on one item, or an external worker gave up.

The item stays where it was, flagged, with the error in its history; nothing else is affected.
An admin retries the failed step (``workflow.retry_incident``): a retry that gets through resolves
the incident, one that fails again leaves it open with the new error.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.bpmn.instance import Failure
from engine.store.errors import IncidentResolved, NotFound
from engine.store.models import Incident, Item, utcnow

# Longer messages are cut: a runaway script's error can quote a lot of data.
MAX_MESSAGE = 2_000
SCRIPT_FAILED = "脚本或表达式出错"
EXTERNAL_FAILED = "外部任务失败"


def _message(failure: Failure, heading: str = SCRIPT_FAILED) -> str:
    return f"{heading} {failure.message}"[:MAX_MESSAGE]


def open_incident(session: Session, item: Item, failure: Failure, heading: str = SCRIPT_FAILED) -> Incident:
    """Record the failure on the item (the caller holds its lock): an incident row and a history event."""
    incident = Incident(item_id=item.id, element=failure.element, message=_message(failure, heading))
    session.add(incident)
    session.flush()
    history.record(
        session,
        item,
        actor=None,
        action="incident",
        task=failure.element,
        status_from=item.status,
        status_to=item.status,
        data={"incident": incident.id, "message": incident.message},
    )
    return incident


def fail_again(incident: Incident, failure: Failure) -> None:
    incident.message = _message(failure)


def resolve(incident: Incident, actor: str) -> None:
    incident.resolved_at = utcnow()
    incident.resolved_by = actor


def open_clause() -> ColumnElement[bool]:
    """Items with an open incident, for the ledger's filter."""
    return exists(select(Incident.id).where(Incident.item_id == Item.id, Incident.resolved_at.is_(None)))


def current(session: Session, item: Item) -> Incident | None:
    """The item's oldest open incident (the step the item is stuck on first)."""
    query = select(Incident).where(Incident.item_id == item.id, Incident.resolved_at.is_(None)).order_by(Incident.id)
    return session.scalars(query.limit(1)).first()


def open_incidents(session: Session) -> list[Incident]:
    return list(session.scalars(select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.id)))


def get_open(session: Session, item_id: int, incident_id: int) -> Incident:
    """The item's incident, still open: 404 when it is not the item's, 409 once resolved."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.item_id != item_id:
        raise NotFound(f"事件不存在 No incident {incident_id} on item {item_id}")
    if incident.resolved_at is not None:
        raise IncidentResolved()
    return incident
