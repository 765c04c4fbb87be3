"""marshmallow schemas of the external worker protocol (``/external-tasks``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.api.schemas import Text

# A lock or a retry's wait: at least a millisecond, at most a week.
MAX_MS = 7 * 24 * 3600 * 1000


def _worker_id() -> Text:
    return Text(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the worker's own id: a lock is held by it"},
    )


def _lock_ms(description: str) -> fields.Integer:
    return fields.Integer(
        required=True, validate=validate.Range(min=1, max=MAX_MS), metadata={"description": description}
    )


def _variables(description: str) -> fields.Dict:
    return fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=200)), load_default=dict, metadata={"description": description}
    )


class FetchAndLockSchema(Schema):
    worker_id = _worker_id()
    topics = fields.List(
        Text(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "the topics (camunda:topic) this worker handles"},
    )
    max_tasks = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    lock_ms = _lock_ms("how long each task fetched stays locked for this worker, in milliseconds")


class ExternalCompleteSchema(Schema):
    worker_id = _worker_id()
    variables = _variables("set on the item before its diagram goes on (not department, units, deadline_end nor owner)")


class ExternalFailureSchema(Schema):
    worker_id = _worker_id()
    message = Text(
        required=True, validate=validate.Length(min=1, max=2000), metadata={"description": "what went wrong"}
    )
    retries = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=1000),
        metadata={"description": "attempts left: 0 opens an incident on the item (an admin's retry offers it again)"},
    )
    retry_timeout_ms = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_MS),
        metadata={"description": "offered again this many milliseconds from now (when retries > 0)"},
    )


class ExtendLockSchema(Schema):
    worker_id = _worker_id()
    lock_ms = _lock_ms("the lock now lasts this many milliseconds from now")


class ExternalTaskSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    element = fields.String(metadata={"description": "the BPMN id of the service task"})
    topic = fields.String()
    state = fields.String(metadata={"description": "open, incident, completed or cancelled"})
    variables = fields.Dict(metadata={"description": "the item's data when the diagram reached the task"})
    worker_id = fields.String(allow_none=True)
    lock_expires_at = fields.DateTime(allow_none=True)
    retries = fields.Integer(allow_none=True, metadata={"description": "null until a worker reports a failure"})
    error_message = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ExternalTaskListSchema(Schema):
    tasks = fields.List(fields.Nested(ExternalTaskSchema))
