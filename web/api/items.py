"""Items: raise, list, read, history."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from engine.audit import history
from engine.identity import permissions
from engine.items import corrections, items, messages, progress, workflow
from engine.ledger import lasting, ledger, ledger_export
from engine.store.models import ProgressUpdate, User
from web import db
from web.api.blueprint import Blueprint
from web.api.downloads import XLSX, attachment
from web.api.presenters import item_payload, ledger_row
from web.api.schemas import (
    CorrectionSchema,
    HistorySchema,
    ImportQuerySchema,
    ItemCreateSchema,
    ItemPageQuerySchema,
    ItemPageSchema,
    ItemQuerySchema,
    ItemSchema,
    LedgerImportedSchema,
    LedgerPreviewSchema,
    LedgerUploadSchema,
    MessageSchema,
    ProgressCreateSchema,
    ProgressListSchema,
    ProgressUpdateSchema,
    WithdrawSchema,
)
from web.auth import check_first, current_user
from web.uploads import check_ledger, workbook_body

blp = Blueprint("items", __name__, url_prefix="/items", description="整改事项 Rectification items")


@blp.route("", methods=["GET"])
@blp.arguments(ItemPageQuerySchema, location="query")
@blp.response(200, ItemPageSchema)
@blp.problems()
def list_items(query: dict[str, Any]) -> dict[str, Any]:
    flt = items.ItemFilter(**query)
    session, today = db.session(), db.today()
    listed = items.list_items(session, current_user(), flt, today)
    marks = lasting.of_items(session, current_user(), listed.items, db.settings().recurrence_months)
    return {
        "items": [ledger_row(item, marks[item.id], today) for item in listed.items],
        "total": listed.total,
        "page": flt.page,
        "per_page": flt.per_page,
        "counts": [{"status": status, "label": label, "count": n} for status, (label, n) in listed.counts.items()],
    }


@blp.route("/export.xlsx", methods=["GET"])
@blp.arguments(ItemQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="the ledger (台账): every item the filters select")
@blp.problems()
def export_ledger(query: dict[str, Any]) -> Response:
    settings = db.settings()
    flt = items.ItemFilter(**query)
    content = ledger_export.export(
        db.session(), current_user(), flt, db.today(), settings.timezone, settings.recurrence_months
    )
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": attachment(f"台账-{db.today()}.xlsx")})


@blp.route("/import", methods=["POST"])
@check_first(permissions.require_reporter)
@workbook_body
@blp.arguments(ImportQuerySchema, location="query")
@blp.arguments(LedgerUploadSchema, location="files")
@blp.idempotent()
@blp.response(201, LedgerImportedSchema, description="rows without 编号 were raised, known items updated")
@blp.alt_response(200, schema=LedgerPreviewSchema, description="dry_run: the plan; nothing was saved")
@blp.problems(
    403,
    412,
    described={
        413: "the workbook, or what it expands to, is over a `RECTIFLOW_IMPORT_*` limit (named in `detail`)",
        422: "not a readable ledger, more rows than `RECTIFLOW_IMPORT_MAX_ROWS`, or row errors "
        "(`errors`: `[{row, column, message, value, accepted}]`): nothing was imported",
    },
)
def import_ledger(query: dict[str, Any], files: dict[str, Any]) -> tuple[dict[str, Any], int] | Response:
    found, vocabulary = check_ledger(files["file"].stream)
    session, timezone = db.session(), db.settings().timezone
    if query["dry_run"]:
        # The 201 schema shapes only the real import: the preview is shaped by its own schema here.
        return jsonify(
            LedgerPreviewSchema().dump(preview_payload(ledger.plan(session, current_user(), found, timezone)))
        )
    done = ledger.apply(session, current_user(), found, vocabulary, timezone, query["fingerprint"])
    return {
        "created": len(done.created),
        "items": done.created,
        "updated": done.updated,
        "unchanged": done.unchanged,
    }, 201


def preview_payload(plan: ledger.Plan) -> dict[str, Any]:
    creates = [{"row": row.row, "item": row} for row in plan.creates]
    updates = [{"row": update.row.row, "item": update.row} for update in plan.updates]
    return {
        "rows": sorted([*creates, *updates], key=lambda found: found["row"]),
        "creates": creates,
        "updates": [{"row": u.row.row, "item_id": u.item_id, "changes": u.changes} for u in plan.updates],
        "unchanged": plan.unchanged,
        "errors": plan.errors,
        "skipped": plan.skipped,
        "fingerprint": plan.fingerprint,
    }


@blp.route("", methods=["POST"])
@check_first(permissions.require_reporter)
@blp.arguments(ItemCreateSchema)
@blp.idempotent()
@blp.response(201, ItemSchema)
@blp.problems(400, 403, 413)
def create_item(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    new = workflow.NewItem(**{**body, "co_departments": tuple(body["co_departments"])})
    item = workflow.create_item(session, current_user(), new, db.settings().timezone)
    return (
        item_payload(session, item, db.today()),
        201,
        {"ETag": workflow.etag(item), "Location": f"/api/v1/items/{item.id}"},
    )


@blp.route("/<int:item_id>", methods=["GET"])
@blp.response(200, ItemSchema)
@blp.problems(404)
def get_item(item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}


@blp.route("/<int:item_id>/history", methods=["GET"])
@blp.response(200, HistorySchema)
@blp.problems(404)
def get_history(item_id: int) -> dict[str, Any]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return {"events": history.events(session, item.id), "pruned": history.pruned(session, item.id)}


def _may_report_progress(user: User, item_id: int) -> None:
    session = db.session()
    permissions.require_progress_reporter(session, user.id, items.get_visible(session, user, item_id))


@blp.route("/<int:item_id>/progress", methods=["POST"])
@check_first(_may_report_progress)
@blp.arguments(ProgressCreateSchema)
@blp.idempotent()
@blp.response(201, ProgressUpdateSchema)
@blp.problems(400, 403, 404, 413)
def report_progress(body: dict[str, Any], item_id: int) -> ProgressUpdate:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return progress.report(session, current_user().id, item, progress.NewProgress(**body))


@blp.route("/<int:item_id>/progress", methods=["GET"])
@blp.response(200, ProgressListSchema)
@blp.problems(404)
def list_progress(item_id: int) -> dict[str, Any]:
    session = db.session()
    item = items.get_visible(session, current_user(), item_id)
    return {"updates": progress.updates(session, item)}


def _message_sender(user: User, item_id: int) -> None:
    permissions.require_message_sender(user)


@blp.route("/<int:item_id>/messages", methods=["POST"])
@check_first(_message_sender)
@blp.arguments(MessageSchema)
@blp.response(200, ItemSchema)
@blp.problems(
    400,
    403,
    413,
    described={
        404: "No such item (in the admin log, `message.undelivered`)",
        409: "Nothing on the item waits for this message (in the admin log, `message.undelivered`)",
    },
)
def send_message(body: dict[str, Any], item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A BPMN message for the item: its catch event, receive task or boundary event of that name catches it,
    the variables join the item's data and the item moves on. Approvers and administrators send messages."""
    session = db.session()
    message = workflow.Message(body["name"], body["variables"])
    item = messages.deliver(session, current_user(), item_id, message, request.remote_addr)
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}


def _admin(user: User, item_id: int) -> None:
    permissions.require_admin(user)


ADMIN_CHANGE_PROBLEMS = {
    412: "If-Match does not match the item's current ETag",
    422: "Invalid data (`errors` names the field), or the item is finished or withdrawn already (field `item`)",
}


@blp.route("/<int:item_id>/withdraw", methods=["POST"])
@check_first(_admin)
@blp.arguments(WithdrawSchema)
@blp.response(200, ItemSchema)
@blp.problems(400, 403, 404, 413, described=ADMIN_CHANGE_PROBLEMS)
def withdraw(body: dict[str, Any], item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """撤销: an administrator stops an item registered by mistake; it stays visible as withdrawn."""
    session = db.session()
    item = corrections.withdraw(
        session, current_user(), item_id, body["reason"], request.headers.get("If-Match"), request.remote_addr
    )
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}


@blp.route("/<int:item_id>/correct", methods=["POST"])
@check_first(_admin)
@blp.arguments(CorrectionSchema)
@blp.response(200, ItemSchema)
@blp.problems(400, 403, 404, 413, described=ADMIN_CHANGE_PROBLEMS)
def correct(body: dict[str, Any], item_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """更正: an administrator corrects fields registered wrongly; the history keeps each old and new value."""
    session = db.session()
    item = corrections.correct(
        session,
        current_user(),
        item_id,
        corrections.Correction(**body),
        db.settings().timezone,
        request.headers.get("If-Match"),
        request.remote_addr,
    )
    return item_payload(session, item, db.today()), 200, {"ETag": workflow.etag(item)}
