"""制度性措施 The measures library: propose, find, adopt or repeal, link items; an item's mechanism and recurrence.

Everyone signed in reads the library; who changes it is ``permissions`` (proposers: approvers and the owning
unit's managers; adopting and repealing: approvers). Rules: ``engine.measures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

from engine.identity import permissions
from engine.items import items
from engine.measures import catalog, mechanism, recurrence, recurrence_scans
from engine.store.models import Item, Measure, User
from web import db
from web.api.blueprint import Blueprint
from web.api.measure_schemas import (
    DocumentSchema,
    ItemMeasuresSchema,
    LinkSchema,
    MeasureCreateSchema,
    MeasureDetailSchema,
    MeasureListSchema,
    MeasureQuerySchema,
    ProposeFromItemSchema,
    StatusChangeSchema,
)
from web.auth import check_first, current_user

blp = Blueprint("measures", __name__, url_prefix="/measures", description="制度性措施 Institutional measures")
item_blp = Blueprint(
    "item_measures", __name__, url_prefix="/items", description="事项的长效机制 An item's lasting mechanism"
)


def _proposer(user: User, **_: Any) -> None:
    permissions.require_measure_proposer(user)


def _adopter(user: User, **_: Any) -> None:
    permissions.require_measure_adopter(user)


@dataclass(frozen=True)
class Detail:
    """A measure as ``MeasureDetailSchema`` shows it: its fields, and the items the caller may see."""

    measure: Measure
    items: list[Item]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.measure, name)


def detail(measure: Measure) -> Detail:
    return Detail(measure, catalog.items_of(db.session(), current_user(), measure))


@blp.route("", methods=["POST"])
@check_first(_proposer)
@blp.arguments(MeasureCreateSchema)
@blp.response(201, MeasureDetailSchema)
@blp.problems(400, 403)
def propose(body: dict[str, Any]) -> tuple[Detail, int]:
    """Propose a draft measure of a unit (approvers: any unit; managers: their own), with the items it came from."""
    new = catalog.NewMeasure(**{**body, "items": tuple(body["items"])})
    return detail(catalog.propose(db.session(), current_user(), new, request.remote_addr)), 201


@blp.route("", methods=["GET"])
@blp.arguments(MeasureQuerySchema, location="query")
@blp.response(200, MeasureListSchema)
@blp.problems()
def library(query: dict[str, Any]) -> dict[str, Any]:
    """制度库: newest first; `q` searches titles and summaries, the others filter."""
    return {"measures": catalog.search(db.session(), catalog.MeasureFilter(**query))}


@blp.route("/<int:measure_id>", methods=["GET"])
@blp.response(200, MeasureDetailSchema)
@blp.problems(404)
def one(measure_id: int) -> Detail:
    return detail(catalog.get(db.session(), measure_id))


@blp.route("/<int:measure_id>/status", methods=["POST"])
@check_first(_adopter)
@blp.arguments(StatusChangeSchema)
@blp.response(200, MeasureDetailSchema)
@blp.problems(400, 403, 404)
def change_status(body: dict[str, Any], measure_id: int) -> Detail:
    """施行 (adopt a draft) or 废止 (repeal); approvers only. Adopting notes it in each linked item's history."""
    on = body["on"] or db.today()
    measure = catalog.set_status(db.session(), current_user(), measure_id, body["status"], on, request.remote_addr)
    return detail(measure)


@blp.route("/<int:measure_id>/items", methods=["POST"])
@check_first(_proposer)
@blp.arguments(LinkSchema)
@blp.response(200, MeasureDetailSchema)
@blp.problems(400, 403, 404)
def link(body: dict[str, Any], measure_id: int) -> Detail:
    """Link items the measure came from (each noted in the item's history)."""
    return detail(catalog.link(db.session(), current_user(), measure_id, body["items"], request.remote_addr))


@blp.route("/<int:measure_id>/document", methods=["PUT"])
@check_first(_proposer)
@blp.arguments(DocumentSchema)
@blp.response(200, MeasureDetailSchema)
@blp.problems(400, 403, 404)
def document(body: dict[str, Any], measure_id: int) -> Detail:
    """The measure's document: an evidence file (`POST /items/{id}/attachments`) the caller may see, or null."""
    session, user = db.session(), current_user()
    return detail(catalog.set_document(session, user, measure_id, body["document"], request.remote_addr))


@item_blp.route("/<int:item_id>/measures", methods=["POST"])
@check_first(_proposer)
@item_blp.arguments(ProposeFromItemSchema)
@item_blp.response(201, MeasureDetailSchema)
@item_blp.problems(400, 403, 404)
def propose_from_item(body: dict[str, Any], item_id: int) -> tuple[Detail, int]:
    """Propose a measure from an item (as its reviewer does): prefilled from the item, and linked to it."""
    session, user = db.session(), current_user()
    prefilled = catalog.prefill(items.get_visible(session, user, item_id))
    given = {key: value for key, value in body.items() if value is not None}
    new = catalog.NewMeasure(**{**prefilled.__dict__, **given})
    return detail(catalog.propose(session, user, new, request.remote_addr)), 201


def item_measures(item_id: int) -> dict[str, Any]:
    """An item's mechanism, its measures, and whether it came back (shared with the item page)."""
    session, user = db.session(), current_user()
    item = items.get_visible(session, user, item_id)
    months = db.settings().recurrence_months
    how = recurrence.method(session)
    earlier = recurrence_scans.earlier(session, user, item, months, how)
    return {
        "mechanism": mechanism.of_item(session, item.id),
        "measures": catalog.of_item(session, item.id),
        "came_back": bool(earlier),
        "months": months,
        "method": how,
        "earlier": earlier,
    }


@item_blp.route("/<int:item_id>/measures", methods=["GET"])
@item_blp.response(200, ItemMeasuresSchema)
@item_blp.problems(404)
def of_item(item_id: int) -> dict[str, Any]:
    """长效机制 of the item: what its review noted, its measures, and the earlier closed items it looks like."""
    return item_measures(item_id)
