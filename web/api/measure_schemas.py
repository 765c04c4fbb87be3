"""Schemas of the measures library (制度性措施), of an item's lasting mechanism and of the 长效机制 figures."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.measures import mechanism
from engine.measures.catalog import MAX_SUMMARY, MAX_TITLE, Kind, Status
from web.api.schemas import DepartmentRefSchema, Text

KINDS = [kind.value for kind in Kind]
STATUSES = [status.value for status in Status]
ITEM_ID = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1))


class MeasureCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    kind = Text(
        required=True,
        validate=validate.OneOf(KINDS),
        metadata={"description": "rule 制度 / checklist 清单 / handbook 手册 / ledger 台账 / other 其他"},
    )
    department = Text(required=True, validate=validate.Length(max=64), metadata={"description": "owning unit's code"})
    summary = Text(load_default="", validate=validate.Length(max=MAX_SUMMARY), metadata={"description": "plain text"})
    items = fields.List(ITEM_ID, load_default=list, validate=validate.Length(max=200))
    document = fields.Integer(
        load_default=None, allow_none=True, strict=True, metadata={"description": "an evidence file's id (attachment)"}
    )


class ProposeFromItemSchema(Schema):
    """A measure proposed from the item: each field left out is prefilled from it (title, unit; kind rule)."""

    title = Text(load_default=None, validate=validate.Length(min=1, max=MAX_TITLE))
    kind = Text(load_default=None, validate=validate.OneOf(KINDS))
    department = Text(load_default=None, validate=validate.Length(max=64))
    summary = Text(load_default="", validate=validate.Length(max=MAX_SUMMARY))
    document = fields.Integer(load_default=None, allow_none=True, strict=True)


class MeasureQuerySchema(Schema):
    q = Text(load_default=None, validate=validate.Length(max=200), metadata={"description": "in title or summary"})
    kind = Text(load_default=None, validate=validate.OneOf(KINDS))
    status = Text(load_default=None, validate=validate.OneOf(STATUSES))
    department = Text(load_default=None, validate=validate.Length(max=64), metadata={"description": "unit code"})


class StatusChangeSchema(Schema):
    status = Text(
        required=True,
        validate=validate.OneOf([Status.IN_FORCE.value, Status.REPEALED.value]),
        metadata={"description": "in_force 施行 (from a draft) or repealed 废止"},
    )
    on = fields.Date(load_default=None, metadata={"description": "the adoption or repeal date; default today"})


class LinkSchema(Schema):
    items = fields.List(ITEM_ID, required=True, validate=validate.Length(min=1, max=200))


class DocumentSchema(Schema):
    document = fields.Integer(required=True, allow_none=True, strict=True, metadata={"description": "null: none"})


class MeasureItemSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    status_label = fields.String()
    department = fields.Nested(DepartmentRefSchema)


class AttachmentRefSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    media_type = fields.String()
    sha256 = fields.String()


class MeasureSchema(Schema):
    id = fields.Integer()
    title = fields.String(metadata={"description": "plain text: escape it when showing it"})
    kind = fields.String()
    status = fields.String(metadata={"description": "draft 草案 / in_force 施行 / repealed 废止"})
    summary = fields.String()
    department = fields.Nested(DepartmentRefSchema, metadata={"description": "the owning unit"})
    adopted_on = fields.Date(allow_none=True)
    repealed_on = fields.Date(allow_none=True)
    document = fields.Nested(AttachmentRefSchema, allow_none=True)
    proposed_by = fields.Function(lambda m: m.proposed_by.username if m.proposed_by else None, allow_none=True)
    proposed_at = fields.DateTime()
    updated_at = fields.DateTime()


class MeasureDetailSchema(MeasureSchema):
    items = fields.List(fields.Nested(MeasureItemSchema), metadata={"description": "those the caller may see"})


class MeasureListSchema(Schema):
    measures = fields.List(fields.Nested(MeasureSchema))


class EarlierSchema(Schema):
    id = fields.Function(lambda e: e.item.id)
    title = fields.Function(lambda e: e.item.title)
    category = fields.Function(lambda e: e.item.category)
    department = fields.Function(lambda e: {"code": e.item.department.code, "name": e.item.department.name})
    closed_at = fields.Function(lambda e: e.item.closed_at.isoformat() if e.item.closed_at else None)
    why = fields.String(metadata={"description": "same_unit_category or similar_title"})


class ItemMeasuresSchema(Schema):
    mechanism = fields.String(
        allow_none=True,
        validate=validate.OneOf([mechanism.ADOPTED, mechanism.NONE_NEEDED]),
        metadata={"description": "noted by the item's latest review: measure_adopted / none_needed, or null"},
    )
    measures = fields.List(fields.Nested(MeasureSchema))
    came_back = fields.Boolean(metadata={"description": "此问题曾整改过: like an item closed in the months before"})
    months = fields.Integer(metadata={"description": "RECTIFLOW_RECURRENCE_MONTHS"})
    method = fields.String(metadata={"description": "how titles were compared: trigram (pg_trgm) or overlap"})
    earlier = fields.List(fields.Nested(EarlierSchema))


class LastingRowSchema(Schema):
    name = fields.String()
    code = fields.String()
    closed_with = fields.Integer(metadata={"description": "closed with a lasting measure"})
    closed_without = fields.Integer()
    recurring = fields.Integer(metadata={"description": "raised in the period and like an earlier closed item"})


class LastingReportSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    units = fields.List(fields.Nested(LastingRowSchema))
    categories = fields.List(fields.Nested(LastingRowSchema), metadata={"description": "'' names no category"})
    total = fields.Nested(LastingRowSchema)
    adopted = fields.List(fields.Nested(MeasureSchema), metadata={"description": "measures adopted in the period"})
    method = fields.String()
