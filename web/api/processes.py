"""Process definitions: list, lint, deploy a new version, download a version's XML, compare two versions."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Response, url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from engine.bpmn import deploy
from engine.bpmn.findings import Severity
from engine.bpmn.forms_folder import read_forms
from engine.bpmn.lint import lint
from engine.identity import permissions
from engine.items import affected
from web import db, trail
from web.api.blueprint import Blueprint
from web.api.diff_schemas import DiffQuerySchema, VersionDiffSchema
from web.api.downloads import attachment
from web.api.schemas import DeployedSchema, LintSchema, ProcessListSchema
from web.auth import check_first, current_user

blp = Blueprint("processes", __name__, url_prefix="/processes", description="流程 Process definitions")


class UploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "a .bpmn file (BPMN 2.0 XML, UTF-8, at most 5 MB)"})


class LintUploadSchema(UploadSchema):
    form = fields.List(
        Upload(),
        load_default=list,
        metadata={
            "description": "JSON Schema forms, each named by its form key (the file name a user task's "
            "camunda:formKey gives); they stand in for the server's forms of the same key"
        },
    )


class DeploymentSchema(DeployedSchema):
    sha256 = fields.String(metadata={"description": "SHA-256 of the deployed file, hex"})
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@blp.response(200, ProcessListSchema)
@blp.problems()
def list_processes() -> dict[str, Any]:
    processes = []
    for key, group in groupby(deploy.all_definitions(db.session()), key=lambda d: d.key):
        versions = list(group)
        processes.append(
            {"key": key, "name": versions[-1].name, "latest_version": versions[-1].version, "versions": versions}
        )
    return {"processes": processes}


@blp.route("", methods=["POST"])
@check_first(permissions.require_designer)
@blp.arguments(UploadSchema, location="files")
@blp.idempotent()
@blp.response(201, DeploymentSchema, description="A new version of the process")
@blp.alt_response(200, schema=DeploymentSchema, description="Identical XML was already deployed: that version")
@blp.problems(
    403,
    described={
        413: "The upload is larger than 5 MB",
        422: "The diagram cannot be deployed; `errors` names each element at fault: "
        '`[{"element": "<BPMN id>", "message": "..."}]`',
    },
)
def deploy_process(files: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
    definition, created = deploy.deploy(
        db.session(), files["file"].read(), db.settings().processes_path / "forms", current_user().username
    )
    # An identical upload changes nothing but is still an attempt to deploy: logged with created=False.
    trail.record("process.deploy", f"{definition.key} v{definition.version}", created=created, sha256=definition.sha256)
    location = url_for(".download", key=definition.key, version=definition.version)
    return definition, 201 if created else 200, {"Location": location}


@blp.route("/validate", methods=["POST"])
@check_first(permissions.require_linter)
@blp.arguments(LintUploadSchema, location="files")
@blp.response(200, LintSchema, description="The verdict: `valid` is false when any problem is an error")
@blp.problems(403, described={413: "The upload is larger than 5 MB"})
def validate(files: dict[str, Any]) -> dict[str, Any]:
    """Lint a diagram and its forms: every problem at once, each naming its element; nothing is stored."""
    forms = read_forms(db.settings().processes_path / "forms")
    forms.update({form.filename or "": form.read() for form in files["form"]})
    problems = lint(files["file"].read(), forms)
    return {
        "valid": all(problem.severity is not Severity.ERROR for problem in problems),
        "problems": [problem.as_error() for problem in problems],
    }


@blp.route("/<key>/<int:version>/bpmn", methods=["GET"])
@blp.response(200, content_type="application/xml")
@blp.problems(404)
def download(key: str, version: int) -> Response:
    definition = deploy.get(db.session(), key, version)
    # Keys may hold any letter: ``attachment`` gives an ASCII fallback name too.
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.bpmn")}
    return Response(definition.bpmn_xml, mimetype="application/xml", headers=headers)


@blp.route("/<key>/diff", methods=["GET"])
@check_first(lambda user, **_path: permissions.require_version_reader(user))
@blp.arguments(DiffQuerySchema, location="query", as_kwargs=True)
@blp.response(200, VersionDiffSchema)
@blp.problems(403, 404)
def diff(key: str, before: int, after: int) -> dict[str, Any]:
    """What version `to` adds, removes and changes against version `from`, and the running items of `from`
    waiting at a step it removes or alters (a 404 names the missing version in `errors`: `from` or `to`)."""
    comparison = affected.compare_versions(db.session(), key, before, after)
    return {**vars(comparison.diff), "affected": comparison.affected}
