"""制度库 The measures library: search and filters, a measure's page, the propose form (also from an item's
review), adopting and repealing; and what an item's page shows of its lasting mechanism.

The rules are the API's (``engine.measures``, ``permissions``): the pages offer a form only to whom it is for.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.identity import identity, permissions
from engine.identity.identity import Role
from engine.items import items
from engine.measures import catalog, mechanism, recurrence_scans
from engine.store.errors import InvalidInput
from engine.store.models import Item, User
from web import db
from web.api.measure_schemas import LinkSchema, MeasureCreateSchema, MeasureQuerySchema, StatusChangeSchema
from web.pages import evidence
from web.pages.base import field_errors, me, once_form, once_url, require_login
from web.pages.errors import handle_on

bp = Blueprint("measure_pages", __name__, url_prefix="/measures")
bp.before_request(require_login)
handle_on(bp)
FIELDS = ("title", "kind", "department", "summary")
FILTERS = ("q", "kind", "status", "department")


def labels() -> dict[str, Any]:
    """Each kind, status and mechanism as a "中文 English" text, for the ``pick`` filter."""

    def joined(table: dict[str, tuple[str, str]]) -> dict[str, str]:
        return {key: " ".join(label) for key, label in table.items()}

    return {
        "kind_labels": joined(catalog.KIND_LABELS),
        "measure_status_labels": joined(catalog.STATUS_LABELS),
        "mechanism_labels": joined(mechanism.LABELS),
    }


def item_lasting(session: Session, user: User, item: Item) -> dict[str, Any]:
    """What the item page shows: the mechanism its review noted, its measures, the earlier items it is like."""
    months = db.settings().recurrence_months
    return {
        "mechanism": mechanism.of_item(session, item.id),
        "measures": catalog.of_item(session, item.id),
        "earlier": recurrence_scans.earlier(session, user, item, months),
        "months": months,
        "may_propose": permissions.may_propose_measure(user, item.department_id),
    }


@bp.get("")
def library() -> str:
    session = db.session()
    try:
        asked = {key: value for key, value in request.args.items() if value != "" and key in FILTERS}
        query = MeasureQuerySchema().load(asked)
    except ValidationError:
        query = {}
    found = catalog.search(session, catalog.MeasureFilter(**query))
    return render_template(
        "measures.html",
        measures=found,
        counts=catalog.item_counts(session, found),
        query=request.args,
        departments=identity.departments(session),
        may_propose=permissions.may_propose_measure(me()),
        **labels(),
    )


@bp.get("/<int:measure_id>/document")
def document(measure_id: int) -> Response:
    """The measure's document, as a download."""
    return evidence.send(catalog.document(db.session(), measure_id), inline=False)


@bp.get("/<int:measure_id>")
def show(measure_id: int) -> str:
    session = db.session()
    measure = catalog.get(session, measure_id)
    user = me()
    return render_template(
        "measure.html",
        measure=measure,
        items=catalog.items_of(session, user, measure),
        may_link=permissions.may_propose_measure(user, measure.department_id),
        may_adopt=Role.APPROVER in user.roles,
        moves=sorted(catalog.MOVES.get(catalog.Status(measure.status), set())),
        **labels(),
    )


def _form(values: dict[str, Any], errors: list[dict[str, Any]], item: Item | None, task: str) -> str:
    return render_template(
        "measure_new.html",
        values=values,
        errors=errors,
        item=item,
        task=task,
        departments=identity.departments(db.session()),
        **labels(),
    )


def _from_item(item_id: str) -> Item | None:
    return items.get_visible(db.session(), me(), int(item_id)) if item_id.isdigit() else None


@bp.get("/new")
@once_url
def new_form() -> str:
    """The propose form; from an item (``?item=``, and ``?task=`` from its review) it is prefilled from it."""
    permissions.require_measure_proposer(me())
    item = _from_item(request.args.get("item", ""))
    values: dict[str, Any] = {"kind": catalog.Kind.RULE}
    if item is not None:
        prefilled = catalog.prefill(item)
        values = {"title": prefilled.title, "kind": prefilled.kind, "department": prefilled.department}
    return _form(values, [], item, request.args.get("task", ""))


@bp.post("/new")
@once_form(_l("已提交，未重复提交"))
def create() -> Response | str:
    permissions.require_measure_proposer(me())
    session, form = db.session(), request.form
    item, task = _from_item(form.get("item", "")), form.get("task", "")
    values = {key: form.get(key, "") for key in FIELDS}
    body: dict[str, Any] = {key: value for key, value in values.items() if value != ""}
    body["items"] = [item.id] if item else []
    try:
        new = catalog.NewMeasure(**{**MeasureCreateSchema().load(body), "items": tuple(body["items"])})
        measure = catalog.propose(session, me(), new, request.remote_addr)
    except ValidationError as exc:
        return _form(values, field_errors(exc), item, task)
    except InvalidInput as exc:
        session.rollback()
        return _form(values, exc.errors, item, task)
    flash(_("已提出制度性措施“%(title)s”", title=measure.title))
    if task.isdigit():
        return redirect(url_for("inbox.show", task_id=int(task)))
    return redirect(url_for(".show", measure_id=measure.id))


@bp.post("/<int:measure_id>/status")
def change_status(measure_id: int) -> Response:
    permissions.require_measure_adopter(me())
    try:
        body = StatusChangeSchema().load({k: v for k, v in request.form.items() if k in ("status", "on") and v})
    except ValidationError as exc:
        raise InvalidInput("；".join(error["message"] for error in field_errors(exc))) from exc
    catalog.set_status(db.session(), me(), measure_id, body["status"], body["on"] or db.today(), request.remote_addr)
    flash(_("已更新状态"))
    return redirect(url_for(".show", measure_id=measure_id))


@bp.post("/<int:measure_id>/items")
def link(measure_id: int) -> Response:
    try:
        wanted = LinkSchema().load({"items": [int(v) for v in request.form.getlist("item") if v.strip().isdigit()]})
    except ValidationError as exc:
        raise InvalidInput(_("请填写事项编号")) from exc
    catalog.link(db.session(), me(), measure_id, wanted["items"], request.remote_addr)
    flash(_("已关联事项"))
    return redirect(url_for(".show", measure_id=measure_id))
