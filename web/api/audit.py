"""Audit (审计): verify the history's hash chains, export it; read the admin log (auditors, and admins)."""

from __future__ import annotations

from typing import Any

from flask import Response

from engine.audit import admin_log, audit, audit_export
from engine.identity import permissions
from web import db
from web.api.auth_schemas import AdminLogPageSchema, AdminLogQuerySchema
from web.api.blueprint import Blueprint
from web.api.downloads import XLSX, attachment
from web.api.schemas import AuditReportSchema, HistoryExportQuerySchema, HistoryExportSchema
from web.auth import check_first

blp = Blueprint("audit", __name__, url_prefix="/audit", description="审计 Audit")


@blp.route("/verify", methods=["GET"])
@check_first(permissions.require_auditor)
@blp.response(200, AuditReportSchema)
@blp.problems(403)
def verify() -> dict[str, Any]:
    report = audit.verify(db.session(), db.files())
    return {
        "ok": report.ok,
        "checked": report.checked,
        "problem_count": report.problem_count,
        "problems": report.problems,
    }


@blp.route("/history", methods=["GET"])
@check_first(permissions.require_auditor)
@blp.arguments(HistoryExportQuerySchema, location="query")
@blp.response(200, HistoryExportSchema)
@blp.problems(403)
def history(query: dict[str, Any]) -> dict[str, Any]:
    """Events across items, with their hashes, filtered by item, actor, action, unit and date range."""
    return {"events": audit_export.rows(db.session(), audit_export.ExportFilter(**query), db.settings().timezone)}


@blp.route("/history.xlsx", methods=["GET"])
@check_first(permissions.require_auditor)
@blp.arguments(HistoryExportQuerySchema, location="query")
@blp.response(200, content_type=XLSX, description="The same rows as a workbook")
@blp.problems(403)
def history_xlsx(query: dict[str, Any]) -> Response:
    found = audit_export.rows(db.session(), audit_export.ExportFilter(**query), db.settings().timezone)
    return Response(
        audit_export.workbook(found),
        mimetype=XLSX,
        headers={"Content-Disposition": attachment("rectiflow-history.xlsx")},
    )


@blp.route("/admin-log", methods=["GET"])
@check_first(permissions.require_log_reader)
@blp.arguments(AdminLogQuerySchema, location="query")
@blp.response(200, AdminLogPageSchema)
@blp.problems(403, 422)
def admin_log_entries(query: dict[str, Any]) -> dict[str, Any]:
    """Denied actions and administrative changes, newest first, filtered by actor, action and office dates."""
    flt = admin_log.LogFilter(**query)
    found, total = admin_log.entries(db.session(), flt, db.settings().timezone)
    return {"entries": found, "total": total, "page": flt.page, "per_page": flt.per_page}
