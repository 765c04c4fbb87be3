"""An item's page: its fields, its diagram with the steps done and the step now, each unit's part,
the history as a timeline and, for auditors, whether that history verifies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from engine.audit import audit, history
from engine.identity import identity, permissions
from engine.identity.identity import Role
from engine.items import corrections, due, incidents, items, progress, workflow
from engine.store.errors import InvalidInput
from engine.store.models import Task
from web import db
from web.api.schemas import CorrectionSchema, WithdrawSchema
from web.pages import timeline
from web.pages.base import me, require_login
from web.pages.errors import handle_on

bp = Blueprint("item", __name__, url_prefix="/items")
# What an administrator may correct (更正), in the form's order.
CORRECTABLE = ("title", "description", "source", "category", "department", "deadline")
bp.before_request(require_login)
handle_on(bp)


@bp.get("/<int:item_id>")
def show(item_id: int) -> str:
    return _page(item_id)


def _page(item_id: int, admin: AdminForm | None = None) -> str:
    session = db.session()
    item = items.get_visible(session, me(), item_id)
    tasks = list(session.scalars(select(Task).where(Task.item_id == item.id).order_by(Task.id)))
    done = sorted({task.name for task in tasks if task.state == "completed"})
    live = [task for task in tasks if task.state in ("ready", "waiting")]
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
        done=done,
        live=live,
        verified=audit.verify_item(session, item.id) if Role.AUDITOR in me().roles else None,
        incident=incidents.current(session, item),
        withdrawn=corrections.is_withdrawn(item),
        admin=admin or AdminForm(),
        etag=workflow.etag(item),
        departments=identity.departments(session) if Role.ADMIN in me().roles else [],
        sources=items.SOURCES,
    )


@dataclass(frozen=True)
class AdminForm:
    """An administrator's correction or withdrawal sent back: which form, what was typed, what is wrong."""

    form: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)


def _sent(form: str, schema: Schema) -> tuple[dict[str, Any], AdminForm]:
    """The posted fields (blank ones left out: unchanged), loaded as the API loads them."""
    values = {key: request.form.get(key, "").strip() for key in ("reason", *CORRECTABLE)}
    sent = AdminForm(form, values)
    try:
        return schema.load({k: v for k, v in values.items() if v}, unknown=EXCLUDE), sent
    except ValidationError as exc:
        messages = _messages()
        errors = [{"field": name, "message": messages[name]} for name in exc.normalized_messages()]
        return {}, AdminForm(form, values, errors)


def _messages() -> dict[str, str]:
    """What the correction and withdrawal forms say beside a field the schema refused."""
    return {
        "reason": _("请填写理由（不超过 2000 字）"),
        "title": _("标题不超过 500 字"),
        "description": _("详细情况不超过 10000 字"),
        "source": _("请从列表中选择问题来源"),
        "category": _("问题类别不超过 100 字"),
        "department": _("请从列表中选择责任单位"),
        "deadline": _("请填写有效日期"),
    }


def _done_or_again(item_id: int, sent: AdminForm, change: Callable[[], object], message: str) -> WerkzeugResponse | str:
    if sent.errors:
        return _page(item_id, sent)
    try:
        change()
    except InvalidInput as exc:
        db.session().rollback()
        return _page(item_id, AdminForm(sent.form, sent.values, exc.errors))
    flash(message)
    return redirect(url_for(".show", item_id=item_id))


@bp.post("/<int:item_id>/withdraw")
def withdraw(item_id: int) -> WerkzeugResponse | str:
    """撤销 (as ``POST /api/v1/items/{id}/withdraw``): the item stops, with the reason in its history."""
    permissions.require_admin(me())
    body, sent = _sent("withdraw", WithdrawSchema())
    return _done_or_again(
        item_id,
        sent,
        lambda: corrections.withdraw(
            db.session(), me(), item_id, body["reason"], request.form.get("etag") or None, request.remote_addr
        ),
        _("已撤销事项"),
    )


@bp.post("/<int:item_id>/correct")
def correct(item_id: int) -> WerkzeugResponse | str:
    """更正 (as ``POST /api/v1/items/{id}/correct``): the fields that differ, each old and new value in the history."""
    permissions.require_admin(me())
    body, sent = _sent("correct", CorrectionSchema())
    return _done_or_again(
        item_id,
        sent,
        lambda: corrections.correct(
            db.session(),
            me(),
            item_id,
            corrections.Correction(**body),
            db.settings().timezone,
            request.form.get("etag") or None,
            request.remote_addr,
        ),
        _("已更正事项"),
    )


@bp.post("/<int:item_id>/incidents/<int:incident_id>/retry")
def retry(item_id: int, incident_id: int) -> WerkzeugResponse:
    """An administrator runs the failed step again (as ``POST /api/v1/.../retry`` without data)."""
    permissions.require_admin(me())
    incident = workflow.retry_incident(db.session(), me(), item_id, incident_id, {}, request.remote_addr)
    flash(_("已重试：故障已排除") if incident.resolved_at else _("已重试：仍然出错"))
    return redirect(url_for(".show", item_id=item_id))


@bp.get("/<int:item_id>/diagram.bpmn")
def diagram(item_id: int) -> Response:
    """The diagram version the item runs on, for the viewer (only for someone who may see the item)."""
    session = db.session()
    definition = items.definition_of(session, items.get_visible(session, me(), item_id))
    return Response(definition.bpmn_xml, mimetype="application/xml")
