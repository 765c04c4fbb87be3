"""Evidence files' request and response shapes."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields


class AttachmentUploadSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "the file: PDF, PNG/JPEG/GIF/WebP, Office/WPS/OpenDocument document or plain text, "
            "judged by its content; at most RECTIFLOW_EVIDENCE_MAX_FILE_BYTES (default 20 MB)"
        },
    )


class AttachmentFormSchema(Schema):
    task_id = fields.Integer(
        load_default=None, metadata={"description": "the open task of this item the file is evidence for"}
    )


class AttachmentSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    filename = fields.String(metadata={"description": "the name as sent, made safe; its extension fits the content"})
    size = fields.Integer()
    media_type = fields.String(metadata={"description": "sniffed from the content"})
    sha256 = fields.String()
    uploaded_by = fields.Function(lambda a: a.uploaded_by.username if a.uploaded_by else None, allow_none=True)
    uploaded_at = fields.DateTime()
    removed_at = fields.DateTime(allow_none=True)
    url = fields.Function(lambda a: f"/api/v1/attachments/{a.id}")


class AttachmentListSchema(Schema):
    attachments = fields.List(fields.Nested(AttachmentSchema))
