"""Schemas of the decisions API (``web.api.decisions``)."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from engine.bpmn.dmn import HIT_POLICIES
from web.api.schemas import MAX_PAGE, Text


class DecisionUploadSchema(Schema):
    file = Upload(
        required=True,
        metadata={"description": "a .dmn file (DMN 1.1-1.3 XML, UTF-8): each decision table in it is deployed"},
    )


class InputColumnSchema(Schema):
    id = fields.String()
    label = fields.String()
    expression = fields.String(metadata={"description": "Python, evaluated over the data"})
    type = fields.String(metadata={"description": "the typeRef, as the table says (not checked)"})


class OutputColumnSchema(Schema):
    id = fields.String()
    label = fields.String()
    name = fields.String(metadata={"description": "the variable the output becomes"})
    type = fields.String()


class DeployedWithSchema(Schema):
    key = fields.String()
    version = fields.Integer()


class DecisionSchema(Schema):
    key = fields.String(metadata={"description": "the decision's id in the DMN"})
    version = fields.Integer()
    name = fields.String()
    hit_policy = fields.String(metadata={"enum": list(HIT_POLICIES)})
    inputs = fields.List(fields.Nested(InputColumnSchema))
    outputs = fields.List(fields.Nested(OutputColumnSchema))
    rules = fields.Integer(metadata={"description": "how many rules the table has"})
    sha256 = fields.String(metadata={"description": "SHA-256 of the DMN file it came in, hex"})
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    deployed_with = fields.Nested(
        DeployedWithSchema, allow_none=True, metadata={"description": "the process version whose bundle brought it"}
    )


class DeployedDecisionSchema(DecisionSchema):
    created = fields.Boolean(metadata={"description": "false: the file repeats this decision's latest version"})


class DecisionDeploymentSchema(Schema):
    decisions = fields.List(fields.Nested(DeployedDecisionSchema))


class DecisionListSchema(Schema):
    decisions = fields.List(fields.Nested(DecisionSchema))


class DecisionVersionsSchema(Schema):
    key = fields.String()
    versions = fields.List(fields.Nested(DecisionSchema), metadata={"description": "oldest first"})


class EvaluateSchema(Schema):
    inputs = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=200)),
        load_default=dict,
        metadata={"description": "the data the table's input expressions read, by variable name"},
    )
    version = fields.Integer(
        validate=validate.Range(min=1, max=MAX_PAGE), metadata={"description": "a deployed version (default: latest)"}
    )
    dmn = Text(
        validate=validate.Length(min=1),
        metadata={"description": "a draft DMN (XML) to evaluate instead of a deployed version; nothing is stored"},
    )


class EvaluationSchema(Schema):
    key = fields.String()
    version = fields.Integer(allow_none=True, metadata={"description": "null: the draft sent"})
    hit_policy = fields.String(metadata={"enum": list(HIT_POLICIES)})
    inputs = fields.Dict(metadata={"description": "the value each input read, by its label"})
    matched_rules = fields.List(fields.String(), metadata={"description": "rule ids, in table order"})
    outputs = fields.Raw(
        allow_none=True,
        metadata={
            "description": "UNIQUE and FIRST: an object (output name → value), null when no single rule matched; "
            "COLLECT: a list of such objects, one per matched rule"
        },
    )
    problem = fields.String(
        allow_none=True,
        metadata={"description": "why a UNIQUE or FIRST table gave no answer (no rule or several matched)"},
    )
