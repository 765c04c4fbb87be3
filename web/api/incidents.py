"""Incidents (故障): items stuck on a failed script or expression; admins retry the failed step."""

from __future__ import annotations

from typing import Any

from flask import request

from engine.identity import permissions
from engine.items import incidents, workflow
from engine.store.models import Incident
from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import IncidentListSchema, IncidentSchema, RetrySchema
from web.auth import check_first, current_user

blp = Blueprint("incidents", __name__, description="故障 Incidents: failed scripts and expressions of diagrams")


@blp.route("/incidents", methods=["GET"])
@check_first(permissions.require_log_reader)
@blp.response(200, IncidentListSchema, description="The open incidents, oldest first (admins and auditors)")
@blp.problems(described={403: "Neither an admin nor an auditor"})
def list_incidents() -> dict[str, Any]:
    return {"incidents": incidents.open_incidents(db.session())}


@blp.route("/items/<int:item_id>/incidents/<int:incident_id>/retry", methods=["POST"])
@check_first(lambda user, **_ids: permissions.require_admin(user))
@blp.arguments(RetrySchema, required=False)
@blp.response(200, IncidentSchema, description="Retried: `resolved_at` is set when the step got through")
@blp.problems(
    400,
    described={
        403: "Not an admin",
        404: "No such item, or no such incident on it",
        409: "The incident is already resolved",
    },
)
def retry(body: dict[str, Any], item_id: int, incident_id: int) -> Incident:
    """Run the failed step again, after setting the variables in `data` (optional)."""
    return workflow.retry_incident(
        db.session(), current_user(), item_id, incident_id, body.get("data", {}), request.remote_addr
    )
