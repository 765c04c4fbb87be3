"""``GET /health``: needs no token; answers 200 when the database answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import HealthSchema

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness", protected=False)


@blp.route("", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def health() -> dict[str, Any]:
    db.session().execute(text("SELECT 1"))
    return {"status": "ok", "database": db.session().get_bind().dialect.name}
