"""Migrating running items onto another version of their process: try, ask, confirm (by a second person), decline."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.bpmn.deploy import MAX_NOTE
from engine.identity import permissions
from engine.items import migrations
from engine.store.models import ProcessMigration
from web import db
from web.api.blueprint import Blueprint
from web.api.schemas import MAX_PAGE, Text
from web.auth import check_first, current_user

blp = Blueprint(
    "migrations", __name__, url_prefix="/processes", description="流程迁移 Moving running items to another version"
)

_VERSION = validate.Range(min=1, max=MAX_PAGE)
_ELEMENT = validate.Length(min=1, max=200)


class MigrationAskSchema(Schema):
    to_version = fields.Integer(required=True, validate=_VERSION, metadata={"description": "the target version"})
    mapping = fields.Dict(
        keys=fields.String(validate=_ELEMENT),
        values=fields.String(validate=_ELEMENT),
        load_default=dict,
        validate=validate.Length(max=1000),
        metadata={
            "description": "older element id → target element id, for steps whose id the target changed "
            "(by default a step keeps its id)"
        },
    )
    from_version = fields.Integer(
        validate=_VERSION, metadata={"description": "move every running item of this version"}
    )
    items = fields.List(
        fields.Integer(validate=validate.Range(min=1)),
        validate=validate.Length(min=1, max=migrations.MAX_ITEMS),
        metadata={"description": "or move these items (ids)"},
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "true: report item by item what would happen; nothing is stored"}
    )
    note = Text(load_default=None, validate=validate.Length(max=MAX_NOTE), metadata={"description": "why"})

    @validates_schema
    def _one_selection(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("from_version" in data) == ("items" in data):
            raise ValidationError("请指定 from_version 或 items 之一 Give either from_version or items", "items")


# "from" is a Python keyword: the fields are named by a dict.
StepMoveSchema = Schema.from_dict(
    {"from": fields.String(metadata={"description": "the step in the older version"}), "to": fields.String()},
    name="StepMoveSchema",
)


class BlockerSchema(Schema):
    element = fields.String(metadata={"description": "the BPMN element at fault (empty: the item as a whole)"})
    message = fields.String()


class CalledSchema(Schema):
    key = fields.String()
    version = fields.Integer()


class ItemMoveSchema(Schema):
    item = fields.Integer()
    title = fields.String()
    from_version = fields.Integer()
    outcome = fields.String(
        metadata={
            "description": "moves (dry run: it would), moved, blocked (stays untouched), unchanged (already on target)"
        }
    )
    moved = fields.List(fields.Nested(StepMoveSchema), metadata={"description": "each waiting step and where it goes"})
    dropped = fields.List(fields.String(), metadata={"description": "waiting events the target no longer has"})
    armed = fields.List(fields.String(), metadata={"description": "boundary events the target adds to a waiting step"})
    blockers = fields.List(fields.Nested(BlockerSchema))
    called = fields.List(
        fields.Nested(CalledSchema),
        metadata={
            "description": "processes call activities called, running inside the item: they stay on their version"
        },
    )


class DryRunSchema(Schema):
    dry_run = fields.Boolean()
    items = fields.List(fields.Nested(ItemMoveSchema))


class MigrationSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    to_version = fields.Function(lambda row: row.target.version)
    mapping = fields.Dict(keys=fields.String(), values=fields.String())
    selection = fields.Dict(metadata={"description": '{"from_version": n} or {"items": [ids]}'})
    note = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "requested, running (confirmed, moving), done or declined"})
    requested_by = fields.Function(lambda row: row.requested_by.username)
    requested_at = fields.DateTime()
    decided_by = fields.Function(lambda row: row.decided_by.username if row.decided_by else None, allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    items = fields.List(
        fields.Nested(ItemMoveSchema),
        attribute="report",
        metadata={"description": "when requested: the dry run at the time; once confirmed: what each item did"},
    )


class MigrationListSchema(Schema):
    migrations = fields.List(fields.Nested(MigrationSchema))


def _ask(body: dict[str, Any]) -> migrations.Ask:
    return migrations.Ask(
        to_version=body["to_version"],
        mapping=body["mapping"],
        from_version=body.get("from_version"),
        items=tuple(body.get("items", ())),
        note=body["note"],
    )


@blp.route("/<key>/migrations", methods=["POST"])
@check_first(lambda user, **_path: permissions.require_version_keeper(user))
@blp.arguments(MigrationAskSchema)
@blp.response(201, MigrationSchema, description="Asked: it waits for an approver's or an admin's confirmation")
@blp.alt_response(200, schema=DryRunSchema, description="dry_run: item by item, what would happen")
@blp.problems(
    400,
    403,
    described={422: "`errors` names the field at fault: `to_version`, `from_version`, `items` or `mapping.<element>`"},
)
def ask(body: dict[str, Any], key: str) -> Response | tuple[ProcessMigration, int, dict[str, str]]:
    """Designers (and admins) try a migration with `dry_run`, or ask for it; nothing moves before another person
    confirms it."""
    session = db.session()
    if body["dry_run"]:
        report = migrations.dry_run(session, current_user(), key, _ask(body))
        # Another shape than the 201's: answered as is, not through the response schema.
        return jsonify(DryRunSchema().dump({"dry_run": True, "items": report}))
    asked = migrations.request(session, current_user(), key, _ask(body), request.remote_addr)
    return asked, 201, {"Location": url_for(".one", key=key, migration_id=asked.id)}


@blp.route("/<key>/migrations", methods=["GET"])
@blp.response(200, MigrationListSchema)
@blp.problems(403)
def listed(key: str) -> dict[str, Any]:
    return {"migrations": migrations.listed(db.session(), current_user(), key)}


@blp.route("/<key>/migrations/<int:migration_id>", methods=["GET"])
@blp.response(200, MigrationSchema)
@blp.problems(403, 404)
def one(key: str, migration_id: int) -> ProcessMigration:
    return migrations.get(db.session(), current_user(), key, migration_id)


@blp.route("/<key>/migrations/<int:migration_id>/confirm", methods=["POST"])
@blp.response(202, MigrationSchema, description="Confirmed: `state` is running until every item had its turn")
@blp.problems(403, 404, described={409: "Already confirmed or declined"})
def confirm(key: str, migration_id: int) -> ProcessMigration:
    """An approver or an admin, not the one who asked, confirms: the worker moves the items from now on, a batch
    per transaction, each all or nothing; `items` grows with what each did (one that cannot move is listed with
    why and left as it was), and `state` becomes done."""
    return migrations.confirm(db.session(), current_user(), key, migration_id, request.remote_addr)


@blp.route("/<key>/migrations/<int:migration_id>/decline", methods=["POST"])
@blp.response(200, MigrationSchema)
@blp.problems(403, 404, described={409: "Already confirmed or declined"})
def decline(key: str, migration_id: int) -> ProcessMigration:
    """An approver or an admin turns the request down, or the one who asked withdraws it; nothing moves."""
    return migrations.decline(db.session(), current_user(), key, migration_id, request.remote_addr)
