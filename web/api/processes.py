"""Process definitions: list, lint, deploy a new version (a bundle: diagram + forms), download it, mark default or
retire, compare two versions."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from marshmallow.validate import Length

from engine.bpmn import deploy, versions
from engine.bpmn.deploy import MAX_NOTE
from engine.bpmn.findings import Severity
from engine.bpmn.lint import lint
from engine.identity import permissions
from engine.items import affected
from engine.store.models import User
from web import bundles, db, trail
from web.api.blueprint import Blueprint
from web.api.diff_schemas import DiffQuerySchema, VersionDiffSchema
from web.api.downloads import attachment
from web.api.schemas import DeployedSchema, LintSchema, ProcessListSchema, ProcessVersionSchema, Text
from web.auth import check_first, current_user

blp = Blueprint("processes", __name__, url_prefix="/processes", description="流程 Process definitions")


class UploadSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "a .bpmn file (BPMN 2.0 XML, UTF-8), or a bundle's .zip: one *.bpmn at the top, "
            "*.dmn beside it and forms/<key>.json; the whole request at most 5 MB"
        },
    )
    form = fields.List(
        Upload(),
        load_default=list,
        metadata={"description": "the JSON Schema forms the diagram names, one part each, named by its form key"},
    )
    decision = fields.List(
        Upload(),
        load_default=list,
        metadata={"description": "DMN files (<name>.dmn) whose decisions deploy with the diagram, one part each"},
    )


class NoteSchema(Schema):
    note = Text(
        load_default=None,
        validate=Length(max=MAX_NOTE),
        metadata={"description": "what this version changes, in the designer's words"},
    )


class DeploymentSchema(DeployedSchema):
    sha256 = fields.String(metadata={"description": "SHA-256 over the diagram and its forms (the bundle), hex"})
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class VersionChangeSchema(Schema):
    default = fields.Boolean(
        metadata={"description": "true: new items start on this version; false: clear the mark (the latest is used)"}
    )
    retired = fields.Boolean(metadata={"description": "true: no new items start on it; running ones go on"})


def _version_keeper(user: User, **_url_values: Any) -> None:
    permissions.require_version_keeper(user)


@blp.route("", methods=["GET"])
@blp.response(200, ProcessListSchema)
@blp.problems()
def list_processes() -> dict[str, Any]:
    processes = []
    for key, listed in versions.listed(db.session()):
        latest = listed[-1].definition
        default = next((row.definition.version for row in listed if row.default), None)
        processes.append(
            {
                "key": key,
                "name": latest.name,
                "latest_version": latest.version,
                "default_version": default,
                "versions": listed,
            }
        )
    return {"processes": processes}


@blp.route("", methods=["POST"])
@check_first(permissions.require_designer)
@blp.arguments(UploadSchema, location="files")
@blp.arguments(NoteSchema, location="form")
@blp.idempotent()
@blp.response(201, DeploymentSchema, description="A new version of the process")
@blp.alt_response(
    200, schema=DeploymentSchema, description="The same diagram and forms are the latest version: that version"
)
@blp.problems(
    403,
    described={
        413: "The upload is larger than 5 MB, or its zip unpacks to more (or holds too many files); "
        '`errors` names the member: `[{"field": "file", "member": "forms/x.json", "message": "..."}]`',
        422: "The bundle cannot be deployed; `errors` names each element, form or zip member at fault: "
        '`[{"element": "<BPMN id>", "message": "..."}]`, `[{"form": "<key>", ...}]`, `[{"member": "<path>", ...}]`',
    },
)
def deploy_process(files: dict[str, Any], form: dict[str, Any]) -> tuple[Any, int, dict[str, str]]:
    uploaded = bundles.from_upload(files["file"], files["form"], decisions=files["decision"])
    definition, created = deploy.deploy(db.session(), uploaded, current_user().username, form["note"])
    # An identical upload changes nothing but is still an attempt to deploy: logged with created=False.
    trail.record("process.deploy", f"{definition.key} v{definition.version}", created=created, sha256=definition.sha256)
    location = url_for(".download", key=definition.key, version=definition.version)
    return definition, 201 if created else 200, {"Location": location}


@blp.route("/validate", methods=["POST"])
@check_first(_version_keeper)
@blp.arguments(UploadSchema, location="files")
@blp.response(200, LintSchema, description="The verdict: `valid` is false when any problem is an error")
@blp.problems(
    403,
    described={
        413: "The upload is larger than 5 MB, or its zip unpacks to more (or holds too many files)",
        422: "The upload is no bundle to lint (a zip member at fault, a form sent twice); `errors` names it",
    },
)
def validate(files: dict[str, Any]) -> dict[str, Any]:
    """Lint a bundle as deploy takes it: every problem at once, each naming its element; nothing is stored."""
    uploaded = bundles.from_upload(files["file"], files["form"], decisions=files["decision"])
    problems = lint(uploaded.diagram, uploaded.forms, uploaded.decisions, db.session())
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


@blp.route("/<key>/<int:version>/bundle.zip", methods=["GET"])
@blp.response(200, content_type="application/zip")
@blp.problems(404)
def download_bundle(key: str, version: int) -> Response:
    """The diagram and its forms byte for byte as deployed: deploying this zip again gives this version."""
    definition = deploy.get(db.session(), key, version)
    content = deploy.as_zip(definition)
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.zip")}
    return Response(content, mimetype="application/zip", headers=headers)


@blp.route("/<key>/<int:version>", methods=["PATCH"])
@check_first(_version_keeper)
@blp.arguments(VersionChangeSchema)
@blp.response(200, ProcessVersionSchema)
@blp.problems(400, 403, 404, 422)
def change_version(body: dict[str, Any], key: str, version: int) -> versions.Listed:
    """Mark the version new items start on, or retire a version; each change is in the admin log."""
    session = db.session()
    definition = deploy.get(session, key, version)
    for change in versions.change(session, definition, **body):
        trail.record(change.action, f"{key} v{version}", **change.detail)
    return versions.one(session, definition)
