"""流程设计 Designer: processes and their versions, the bpmn-js modeler, validate, deploy, download, compare."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from engine.bpmn import deploy
from engine.bpmn.findings import refusal
from engine.bpmn.forms_folder import read_forms
from engine.bpmn.lint import examine
from engine.identity import permissions
from engine.store.errors import InvalidDiagram, InvalidInput
from web import db
from web.api.downloads import attachment
from web.pages import version_diff
from web.pages.base import me, require_login
from web.pages.errors import handle_on
from web.problems import problem

bp = Blueprint("designer", __name__, url_prefix="/designer")
bp.before_request(require_login)
handle_on(bp)


@bp.before_request
def _designers_only() -> None:
    permissions.require_designer(me())


@bp.get("")
def processes() -> str:
    grouped = [
        (key, list(versions)) for key, versions in groupby(deploy.all_definitions(db.session()), lambda d: d.key)
    ]
    return render_template("designer_list.html", processes=grouped)


@bp.get("/<key>/<int:version>")
def edit(key: str, version: int) -> str:
    definition = deploy.get(db.session(), key, version)
    return render_template("designer_edit.html", definition=definition)


@bp.get("/<key>/diff")
def compare(key: str) -> str:
    return version_diff.page(key)


@bp.get("/<key>/<int:version>.bpmn")
def xml(key: str, version: int) -> Response:
    definition = deploy.get(db.session(), key, version)
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.bpmn")}
    return Response(definition.bpmn_xml, mimetype="application/xml", headers=headers)


def _upload() -> bytes:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput(_("没有收到流程图"), errors=[{"field": "file", "message": "required"}])
    return upload.read()


def _refused(error: InvalidDiagram | InvalidInput) -> Response:
    # The modeler shows each message on the element it names.
    return problem(422, "Unprocessable Content", error.detail, error.errors)


@bp.post("/validate")
def validate() -> Any:
    """A verdict, not a change: an invalid diagram is a 200 ``{valid: false}`` listing every error the lint finds."""
    try:
        examined = examine(_upload(), read_forms(db.settings().processes_path / "forms"))
    except InvalidInput as exc:
        return jsonify(valid=False, detail=exc.detail, errors=exc.errors)
    if examined.model is None:
        refused = refusal(examined.problems)
        return jsonify(valid=False, detail=refused.detail, errors=refused.errors)
    warnings = [problem.as_error() for problem in examined.problems]
    message = _("校验通过：%(name)s（%(key)s）", name=examined.name, key=examined.key)
    return jsonify(valid=True, message=message, warnings=warnings)


@bp.post("/deploy")
def deploy_new_version() -> Any:
    session = db.session()
    try:
        definition, created = deploy.deploy(session, _upload(), db.settings().processes_path / "forms", me().username)
    except (InvalidDiagram, InvalidInput) as exc:
        return _refused(exc)
    message = (
        _("已部署版本 %(v)d", v=definition.version) if created else _("与已部署的版本 %(v)d 相同", v=definition.version)
    )
    return jsonify(message=message, location=url_for(".edit", key=definition.key, version=definition.version))
