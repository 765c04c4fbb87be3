"""Audit (审计): verify the history's hash chains. Auditors only."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from engine import audit
from engine.errors import Forbidden
from engine.identity import Role
from engine.models import User
from web import db
from web.api.schemas import AuditReportSchema
from web.auth import authenticate, check_first

blp = Blueprint("audit", __name__, url_prefix="/audit", description="审计 Audit")
blp.before_request(authenticate)


def _auditor(user: User) -> None:
    if Role.AUDITOR not in user.roles:
        raise Forbidden("只有审计员可以核验历史 Only auditors verify the history")


@blp.route("/verify", methods=["GET"])
@check_first(_auditor)
@blp.response(200, AuditReportSchema)
def verify() -> dict[str, Any]:
    report = audit.verify(db.session())
    return {"ok": report.ok, "checked": report.checked, "problems": report.problems}
