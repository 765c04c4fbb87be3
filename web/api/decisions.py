"""DMN decisions: deploy a .dmn, list them and their versions, download a version's XML, try one on inputs.

Deploying is for designers, as deploying a diagram; reading and trying them for designers, administrators,
approvers and auditors (an approver checks why a deadline came out as it did).
"""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from engine.bpmn import decisions
from engine.identity import permissions
from engine.store.models import Decision
from web import db, trail
from web.api.blueprint import Blueprint
from web.api.decision_schemas import (
    DecisionDeploymentSchema,
    DecisionListSchema,
    DecisionUploadSchema,
    DecisionVersionsSchema,
    EvaluateSchema,
    EvaluationSchema,
)
from web.api.downloads import attachment
from web.auth import check_first, current_user

blp = Blueprint("decisions", __name__, url_prefix="/decisions", description="决策表 DMN decision tables")


def _reader(user: Any, **_url_values: Any) -> None:
    permissions.require_decision_reader(user)


def present(decision: Decision) -> dict[str, Any]:
    table = decisions.table_of(decision)
    process = decision.process_definition
    return {
        "key": decision.key,
        "version": decision.version,
        "name": decision.name,
        "hit_policy": decision.hit_policy,
        "inputs": [vars(column) for column in table.inputs],
        "outputs": [vars(column) for column in table.outputs],
        "rules": len(table.rules),
        "sha256": decision.sha256,
        "deployed_at": decision.deployed_at,
        "deployed_by": decision.deployed_by,
        "deployed_with": {"key": process.key, "version": process.version} if process is not None else None,
    }


@blp.route("", methods=["POST"])
@check_first(permissions.require_designer)
@blp.arguments(DecisionUploadSchema, location="files")
@blp.idempotent()
@blp.response(201, DecisionDeploymentSchema, description="New versions of the decisions the file holds")
@blp.alt_response(
    200, schema=DecisionDeploymentSchema, description="Every decision of the file repeats its latest version"
)
@blp.problems(
    403,
    described={
        413: "The upload is larger than 5 MB",
        422: "The file cannot be deployed; `errors` names each DMN element at fault (decision, input or rule id): "
        '`[{"element": "<DMN id>", "code": "dmn-hit-policy", "message": "..."}]`',
    },
)
def deploy_decisions(files: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
    deployed = decisions.deploy(db.session(), files["file"].read(), current_user().username)
    for decision, created in deployed:
        trail.record("decision.deploy", f"{decision.key} v{decision.version}", created=created, sha256=decision.sha256)
    first = deployed[0][0]
    location = url_for(".download", key=first.key, version=first.version)
    body = {"decisions": [{**present(decision), "created": created} for decision, created in deployed]}
    return body, 201 if any(created for _decision, created in deployed) else 200, {"Location": location}


@blp.route("", methods=["GET"])
@check_first(_reader)
@blp.response(200, DecisionListSchema, description="The latest version of each decision, by key")
@blp.problems(403)
def list_decisions() -> dict[str, Any]:
    return {"decisions": [present(decision) for decision in decisions.latest_of_each(db.session())]}


@blp.route("/<key>", methods=["GET"])
@check_first(_reader)
@blp.response(200, DecisionVersionsSchema)
@blp.problems(403, 404)
def versions(key: str) -> dict[str, Any]:
    return {"key": key, "versions": [present(decision) for decision in decisions.versions_of(db.session(), key)]}


@blp.route("/<key>/<int:version>/dmn", methods=["GET"])
@check_first(_reader)
@blp.response(200, content_type="application/xml")
@blp.problems(403, 404)
def download(key: str, version: int) -> Response:
    """The DMN file the version came in, byte for byte (a file with several decisions holds all of them)."""
    decision = decisions.get(db.session(), key, version)
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.dmn")}
    return Response(decision.dmn_xml, mimetype="application/xml", headers=headers)


@blp.route("/<key>/evaluate", methods=["POST"])
@check_first(_reader)
@blp.arguments(EvaluateSchema)
@blp.response(200, EvaluationSchema)
@blp.problems(
    400,
    403,
    404,
    described={
        422: "An expression failed on these inputs (`errors` names `inputs`), or the draft `dmn` cannot be read "
        "(`errors` names its elements) or has no such decision"
    },
)
def evaluate(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Try a deployed version (default: the latest) or a draft on inputs, as a business rule task evaluates it."""
    version, found = decisions.trial(db.session(), key, body["inputs"], body.get("version"), body.get("dmn"))
    return {
        "key": key,
        "version": version,
        "hit_policy": found.table.hit_policy,
        "inputs": found.inputs,
        "matched_rules": found.matched,
        "outputs": found.outputs,
        "problem": found.problem,
    }
