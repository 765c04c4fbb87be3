"""marshmallow schemas of a version comparison (``GET /processes/{key}/diff``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.bpmn.aspects import Aspect
from web.api.schemas import MAX_PAGE

_VERSION = validate.Range(min=1, max=MAX_PAGE)  # a 32-bit column on both databases


class DiffQuerySchema(Schema):
    before = fields.Integer(
        required=True, data_key="from", validate=_VERSION, metadata={"description": "the older version"}
    )
    after = fields.Integer(
        required=True, data_key="to", validate=_VERSION, metadata={"description": "the newer version"}
    )

    @validates_schema
    def _two_versions(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["before"] == data["after"]:
            raise ValidationError("请选择两个不同的版本 Choose two different versions", field_name="to")


class ChangeSchema(Schema):
    aspect = fields.String(metadata={"description": "what changed: " + ", ".join(Aspect)})
    field = fields.String(allow_none=True, metadata={"description": "the form field, for the field_* aspects"})
    before = fields.Raw(data_key="from", allow_none=True, metadata={"description": "null: not set before"})
    after = fields.Raw(data_key="to", allow_none=True, metadata={"description": "null: not set any more"})


class ElementSchema(Schema):
    id = fields.String(metadata={"description": "the BPMN element id"})
    type = fields.String(metadata={"description": "the BPMN element type, e.g. userTask, sequenceFlow, lane"})
    name = fields.String()


class ChangedElementSchema(ElementSchema):
    changes = fields.List(fields.Nested(ChangeSchema))


class ReasonSchema(Schema):
    element = fields.String(metadata={"description": "the older version's element: the step or a timer on it"})
    name = fields.String()
    removed = fields.Boolean()
    aspects = fields.List(fields.String(), metadata={"description": "what changed there (none when removed)"})


class AffectedItemSchema(Schema):
    item_id = fields.Integer()
    title = fields.String()
    element = fields.String(metadata={"description": "the step (BPMN id) the item waits at, on the older version"})
    name = fields.String(metadata={"description": "that step's name"})
    reasons = fields.List(fields.Nested(ReasonSchema))


class VersionDiffSchema(Schema):
    key = fields.String()
    before = fields.Integer(data_key="from")
    after = fields.Integer(data_key="to")
    added = fields.List(fields.Nested(ElementSchema), metadata={"description": "in the newer version only"})
    removed = fields.List(fields.Nested(ElementSchema), metadata={"description": "in the older version only"})
    changed = fields.List(fields.Nested(ChangedElementSchema), metadata={"description": "id: the newer version's"})
    affected = fields.List(
        fields.Nested(AffectedItemSchema),
        metadata={"description": "running items of the older version waiting where the newer one differs"},
    )
