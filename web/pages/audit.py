"""审计 The auditor's history page: the events of every item under the API's filters, and their workbook."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from marshmallow import EXCLUDE, ValidationError

from engine.audit import audit_export
from engine.identity import identity, permissions
from engine.store.errors import InvalidInput
from web import db
from web.api.downloads import XLSX, attachment
from web.api.schemas import HistoryExportQuerySchema
from web.pages.base import field_errors, me, require_login
from web.pages.errors import handle_on

bp = Blueprint("auditor", __name__, url_prefix="/audit")
bp.before_request(require_login)
handle_on(bp)
# The page shows this many events; the workbook holds all of them.
SHOWN = 500


def _checked() -> None:
    permissions.require_auditor(me())


bp.before_request(_checked)


def _hints() -> dict[str, str]:
    """What the filter's fields accept, said beside one refused (the others say what marshmallow found)."""
    return {
        "item_id": _("请填写事项编号（正整数）"),
        "since": _("请填写有效日期"),
        "until": _("请填写有效日期"),
    }


def _filter() -> tuple[audit_export.ExportFilter | None, dict[str, str], list[dict[str, str]]]:
    """The filter the query asks for (None when a field is wrong), the raw values, and each wrong field."""
    args = {key: value.strip() for key, value in request.args.items() if value.strip() != ""}
    try:
        query = HistoryExportQuerySchema(unknown=EXCLUDE).load(args)
    except ValidationError as exc:
        return None, args, field_errors(exc, _hints())
    return audit_export.ExportFilter(**query), args, []


@bp.get("")
def history() -> str:
    flt, args, errors = _filter()
    session = db.session()
    found: list[dict[str, Any]] = []
    if flt is not None:
        found = audit_export.rows(session, flt, db.settings().timezone, limit=SHOWN + 1)
    return render_template(
        "audit.html",
        args=args,
        errors=errors,
        events=found[:SHOWN],
        more=len(found) > SHOWN,
        departments=identity.departments(session),
        data_text=audit_export.data_text,
    )


@bp.get("/history.xlsx")
def history_xlsx() -> Response:
    """Exactly the events the page's filters select (the page shows at most ``SHOWN`` of them)."""
    flt, _args, errors = _filter()
    if flt is None:
        raise InvalidInput(_("筛选条件无效"), errors=errors)
    found = audit_export.rows(db.session(), flt, db.settings().timezone)
    return Response(
        audit_export.workbook(found),
        mimetype=XLSX,
        headers={"Content-Disposition": attachment("rectiflow-history.xlsx")},
    )
