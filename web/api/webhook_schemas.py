"""marshmallow schemas of outgoing webhooks."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.notify import webhooks
from web.api.schemas import Text


class WebhookCreateSchema(Schema):
    url = Text(required=True, metadata={"description": "http or https, at most 2,000 characters"})
    events = fields.List(Text(validate=validate.OneOf(webhooks.EVENTS)), required=True, validate=validate.Length(min=1))


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean(metadata={"description": "false: deleted; it is told of nothing more"})
    created_by = fields.String(allow_none=True)
    created_at = fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        metadata={"description": "signs every delivery (X-Rectiflow-Signature); shown only in this answer"}
    )


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema))
