"""An item's page: its fields, its diagram with the steps done and the step now, each unit's part,
the history as a timeline and, for auditors, whether that history verifies."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from engine.audit import audit, history
from engine.identity import identity, permissions
from engine.identity.identity import Role
from engine.items import corrections, due, incidents, items, progress, sources, workflow
from engine.store.models import Item, ProcessDefinition, Task
from web import db
from web.pages import evidence, item_actions, measures, timeline
from web.pages.base import me, once_url, require_login
from web.pages.errors import handle_on

bp = Blueprint("item", __name__, url_prefix="/items")
bp.before_request(require_login)
handle_on(bp)


@bp.get("/<int:item_id>")
@once_url  # its progress and extension forms are sent once
def show(item_id: int) -> str:
    return render(item_id)


def render(item_id: int, sent: item_actions.Sent | None = None) -> str:
    """The item's page; ``sent``: a refused action form shown again with its messages."""
    session = db.session()
    item = items.get_visible(session, me(), item_id)
    tasks = list(session.scalars(select(Task).where(Task.item_id == item.id).order_by(Task.id)))
    live = [task for task in tasks if task.state in ("ready", "waiting")]
    diagrams = _diagrams(session, item, tasks)
    events = history.events(session, item.id)
    return render_template(
        "item.html",
        item=item,
        definition=items.definition_of(session, item),
        units=items.units(session, item),
        parts=items.parts(session, item),
        data=items.data_of(session, item),
        events=timeline.lines(session, item, events),
        escalated=any(event.action == "escalation" for event in events),
        warning_from=due.warning_from(item.deadline) if item.deadline and not item.ongoing else None,
        pruned=history.pruned(session, item.id),
        updates=progress.updates(session, item),
        diagrams=diagrams,
        live=live,
        verified=audit.verify_item(session, item.id) if Role.AUDITOR in me().roles else None,
        incident=incidents.current(session, item),
        actions=item_actions.of(session, me(), item, live),
        sent=sent or item_actions.Sent(),  # read by the actions' forms and the administrator's
        withdrawn=corrections.is_withdrawn(item),
        etag=workflow.etag(item),
        departments=identity.departments(session) if Role.ADMIN in me().roles else [],
        sources=sources.active(session),
        lasting=measures.item_lasting(session, me(), item),
        **measures.labels(),
        files=evidence.listed(session, me(), item),
        may_add_files=evidence.may_add(me(), item),
    )


@bp.post("/<int:item_id>/incidents/<int:incident_id>/retry")
def retry(item_id: int, incident_id: int) -> WerkzeugResponse:
    """An administrator runs the failed step again (as ``POST /api/v1/.../retry`` without data)."""
    permissions.require_admin(me())
    incident = workflow.retry_incident(db.session(), me(), item_id, incident_id, {}, request.remote_addr)
    flash(_("已重试：故障已排除") if incident.resolved_at else _("已重试：仍然出错"))
    return redirect(url_for(".show", item_id=item_id))


@dataclass(frozen=True)
class Diagram:
    """A diagram on the item's page: the item's own (``definition`` None), or a process it called."""

    definition: ProcessDefinition | None
    done: list[str]
    current: list[str]


def _diagrams(session: Session, item: Item, tasks: list[Task]) -> list[Diagram]:
    """The item's diagram, then each process its call activities called, with the steps done and now.

    On the item's diagram, a call activity whose called process has a live step is a step now too.
    """
    shown = []
    for called in [None, *dict.fromkeys(task.definition_id for task in tasks if task.definition_id is not None)]:
        steps = [task for task in tasks if task.definition_id == called]
        shown.append(
            Diagram(
                None if called is None else session.get_one(ProcessDefinition, called),
                sorted({task.name for task in steps if task.state == "completed"}),
                [task.name for task in steps if task.state in ("ready", "waiting")],
            )
        )
    inside = {d.definition.key for d in shown if d.definition is not None and d.current}
    calls = items.definition_of(session, item).model.get("calls", {})
    shown[0].current.extend(element for element, call in calls.items() if call["key"] in inside)
    return shown


@bp.get("/<int:item_id>/diagram.bpmn")
def diagram(item_id: int) -> Response:
    """The diagram version the item runs on, for the viewer (only for someone who may see the item)."""
    session = db.session()
    definition = items.definition_of(session, items.get_visible(session, me(), item_id))
    return Response(definition.bpmn_xml, mimetype="application/xml")


@bp.get("/<int:item_id>/called/<int:definition_id>/diagram.bpmn")
def called_diagram(item_id: int, definition_id: int) -> Response:
    """The diagram of a process the item's call activity called (404 unless the item has a step in it)."""
    session = db.session()
    item = items.get_visible(session, me(), item_id)
    stepped = select(Task.id).where(Task.item_id == item.id, Task.definition_id == definition_id).limit(1)
    if session.scalar(stepped) is None:
        abort(404)
    return Response(session.get_one(ProcessDefinition, definition_id).bpmn_xml, mimetype="application/xml")
