"""Schemas of intake (反映): raising, triage, one's own submissions and the public receipt."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from engine.intake.files import MAX_FILES
from engine.intake.submissions import MAX_CONTACT, MAX_TEXT, Kind, Status
from engine.store import severity
from web.api.schemas import REASON, DepartmentRefSchema, Severity, Text

KINDS = [kind.value for kind in Kind]
STATUSES = [status.value for status in Status]


class SubmissionCreateSchema(Schema):
    kind = Text(
        required=True, validate=validate.OneOf(KINDS), metadata={"description": "problem 问题 / suggestion 建议"}
    )
    text = Text(
        required=True,
        validate=validate.Length(min=1, max=MAX_TEXT),
        metadata={"description": "plain text (never rendered as HTML); no control characters but tab and line breaks"},
    )
    source = Text(
        required=True, validate=validate.Length(max=50), metadata={"description": "问题来源 (`GET /sources`)"}
    )
    department = Text(required=True, validate=validate.Length(max=64), metadata={"description": "所涉单位 code"})
    contact = Text(load_default=None, allow_none=True, validate=validate.Length(max=MAX_CONTACT))


class SubmissionFilesSchema(Schema):
    files = fields.List(
        Upload(),
        load_default=list,
        metadata={
            "description": f"multipart only: up to {MAX_FILES} files, each as an evidence file may be (PDF, images, "
            "Office/WPS documents, text; at most RECTIFLOW_EVIDENCE_MAX_FILE_BYTES); one refused refuses all"
        },
    )


class SubmissionFileSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    size = fields.Integer()
    media_type = fields.String()
    sha256 = fields.String()
    url = fields.Function(lambda a: f"/api/v1/attachments/{a.id}")


class ItemStateSchema(Schema):
    """What a submitter may know of the item: its id and status, never its history or people."""

    id = fields.Integer()
    status = fields.String()
    status_label = fields.String()


class SubmissionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    text = fields.String(metadata={"description": "as given: plain text, escape it when showing it"})
    source = fields.String()
    department = fields.Nested(DepartmentRefSchema, metadata={"description": "the unit concerned"})
    contact = fields.String(allow_none=True)
    raised_at = fields.DateTime()
    status = fields.String(metadata={"description": "new, accepted, merged or declined"})
    reason = fields.String(allow_none=True, metadata={"description": "why it was declined"})
    triaged_at = fields.DateTime(allow_none=True)
    item = fields.Nested(ItemStateSchema, allow_none=True)
    files = fields.List(fields.Nested(SubmissionFileSchema), metadata={"description": "the files it came with"})


class TriageSubmissionSchema(SubmissionSchema):
    public = fields.Method("_public", metadata={"description": "raised through the public form"})
    raised_by = fields.Function(lambda row: row.raised_by.username if row.raised_by else None, allow_none=True)
    triaged_by = fields.Function(lambda row: row.triaged_by.username if row.triaged_by else None, allow_none=True)

    def _public(self, row: object) -> bool:
        return getattr(row, "raised_by_id", None) is None


class SubmissionListSchema(Schema):
    submissions = fields.List(fields.Nested(SubmissionSchema))


class TriageListSchema(Schema):
    submissions = fields.List(fields.Nested(TriageSubmissionSchema))


class QueueQuerySchema(Schema):
    status = Text(load_default=None, validate=validate.OneOf(STATUSES))


class AcceptSchema(Schema):
    """The item prefilled from the submission; each field given replaces the prefilled value."""

    title = Text(
        load_default=None,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "default: the text's first line"},
    )
    department = Text(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "default: the unit concerned"},
    )
    category = Text(load_default=None, allow_none=True, validate=validate.Length(max=100))
    severity = Severity(load_default=severity.DEFAULT)
    deadline = fields.Date(load_default=None, allow_none=True)


class MergeSchema(Schema):
    item = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "an open item's id"},
    )


class DeclineSchema(Schema):
    reason = Text(required=True, validate=REASON, metadata={"description": "不予采纳的理由"})


class PublicFormSchema(Schema):
    enabled = fields.Boolean(required=True)


class ReceiptSchema(Schema):
    receipt = fields.String(metadata={"description": "keep it: the only way to look up the outcome"})
    kind = fields.String()
    status = fields.String()


class PublicStatusSchema(Schema):
    """All the public learns of a submission: its kind, its outcome, and the status of the item it became."""

    kind = fields.String()
    status = fields.String(metadata={"description": "new, accepted, merged or declined"})
    item_status = fields.String(allow_none=True)
    item_status_label = fields.String(allow_none=True)


class SourceFiguresSchema(Schema):
    source = fields.String(metadata={"description": "问题来源 (empty in the total)"})
    raised = fields.Integer(metadata={"description": "submissions raised in the period"})
    became_items = fields.Integer(metadata={"description": "of those, accepted or merged into items by now"})
    median_days_to_triage = fields.Float(allow_none=True, metadata={"description": "null when none is triaged"})


class IntakeReportSchema(Schema):
    period = fields.Function(lambda report: report.period.code)
    start = fields.Function(lambda report: report.period.start.isoformat())
    end = fields.Function(lambda report: report.period.end.isoformat())
    unit = fields.Nested(DepartmentRefSchema, allow_none=True)
    sources = fields.List(fields.Nested(SourceFiguresSchema))
    total = fields.Nested(SourceFiguresSchema)
