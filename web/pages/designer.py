"""流程设计 Designer: processes and their versions (notes, running items, default, retired), upload a bundle,
the bpmn-js modeler with its form editor and the form's live preview, validate, deploy, download, compare."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from engine.bpmn import deploy, versions
from engine.bpmn.bundle import Bundle, FormRefused, read_form
from engine.bpmn.findings import refusal
from engine.bpmn.lint import examine
from engine.identity import permissions
from engine.store.errors import InvalidDiagram, InvalidInput, TooLarge
from web import bundles, db, trail
from web.api.downloads import attachment
from web.pages import task_form, version_diff
from web.pages.base import me, once_form, once_url, require_login
from web.pages.errors import handle_on
from web.problems import problem

bp = Blueprint("designer", __name__, url_prefix="/designer")
bp.before_request(require_login)
handle_on(bp)


@bp.before_request
def _designers_only() -> None:
    permissions.require_designer(me())


def _list_page(values: dict[str, Any] | None = None, errors: list[dict[str, Any]] | None = None) -> str:
    return render_template(
        "designer_list.html", processes=versions.listed(db.session()), values=values or {}, errors=errors or []
    )


@bp.get("")
@once_url
def processes() -> str:
    return _list_page()


@bp.post("")
@once_form(_l("已部署，未重复部署"))
def upload() -> BaseResponse | str:
    """A bundle from the upload form: one .bpmn with its forms, or one .zip, and a change note."""
    note = request.form.get("note", "")
    try:
        uploaded = bundles.from_files(request.files.getlist("files"), "files")
        definition, created = deploy.deploy(db.session(), uploaded, me().username, note)
    except (InvalidDiagram, InvalidInput, TooLarge) as exc:
        db.session().rollback()
        field = "note" if any(error.get("field") == "note" for error in exc.errors) else "files"
        # Each of the lint's problems on a line of its own, beside the field (the detail only counts them).
        said = [{"field": field, "message": error["message"]} for error in exc.errors if error.get("message")]
        return _list_page({"note": note}, said or [{"field": field, "message": exc.detail}])
    if created:
        target = f"{definition.key} v{definition.version}"
        trail.record("process.deploy", target, created=True, sha256=definition.sha256)
        flash(_("已部署 %(key)s 版本 %(v)d", key=definition.key, v=definition.version))
    else:
        flash(_("与已部署的 %(key)s 版本 %(v)d 相同", key=definition.key, v=definition.version))
    return redirect(url_for(".processes"))


@bp.post("/<key>/<int:version>/<any(default,retire,reinstate,clear):change>")
def change_version(key: str, version: int, change: str) -> BaseResponse | str:
    """The list's buttons: make default, retire, reinstate, clear the default mark."""
    session = db.session()
    definition = deploy.get(session, key, version)
    asked = {
        "default": {"default": True},
        "retire": {"retired": True},
        "reinstate": {"retired": False},
        "clear": {"default": False},
    }[change]
    try:
        changes = versions.change(session, definition, **asked)
    except InvalidInput as exc:
        session.rollback()
        return _list_page(errors=[{"field": f"version-{definition.id}", "message": exc.detail}])
    for made in changes:
        trail.record(made.action, f"{key} v{version}", **made.detail)
    flash(_("已更新 %(key)s 版本 %(v)d", key=key, v=version))
    return redirect(url_for(".processes"))


@bp.get("/<key>/<int:version>")
def edit(key: str, version: int) -> str:
    session = db.session()
    definition = deploy.get(session, key, version)
    # The form editor starts from the forms a deploy from here keeps: the latest version's (``_modeler_bundle``),
    # as text: ``tojson`` would sort a form's keys, and its fields' order is the order the task page draws.
    forms = {form.key: form.content for form in deploy.latest(session, key).forms}
    return render_template("designer_edit.html", definition=definition, forms=forms)


@bp.get("/<key>/diff")
def compare(key: str) -> str:
    return version_diff.page(key)


@bp.get("/<key>/<int:version>.bpmn")
def xml(key: str, version: int) -> Response:
    definition = deploy.get(db.session(), key, version)
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.bpmn")}
    return Response(definition.bpmn_xml, mimetype="application/xml", headers=headers)


@bp.get("/<key>/<int:version>.zip")
def bundle_zip(key: str, version: int) -> Response:
    definition = deploy.get(db.session(), key, version)
    content = deploy.as_zip(definition)
    headers = {"Content-Disposition": attachment(f"{key}-v{version}.zip")}
    return Response(content, mimetype="application/zip", headers=headers)


def _modeler_bundle() -> Bundle:
    """The modeler sends the diagram and the forms edited beside it: the others are its process's latest version's."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput(_("没有收到流程图"), errors=[{"field": "file", "message": _("没有收到流程图")}])
    edited = bundles.forms_of(request.files.getlist("form"))
    return deploy.with_latest_forms(db.session(), upload.read(), edited)


def _refused(error: InvalidDiagram | InvalidInput) -> Response:
    # The modeler shows each message on the element (or beside the form) it names.
    return problem(422, "Unprocessable Content", error.detail, error.errors)


@bp.post("/forms/preview")
def preview_form() -> Response | str:
    """The form editor's live preview: the schema sent (the body, ``?key=`` its form key) as the task page draws it.

    No item exists yet: a user of the unit is one of the designer's own unit, the item's units are that unit.
    """
    try:
        schema = read_form(request.args.get("key", "form.json"), request.get_data())
    except FormRefused as exc:
        return _refused(exc)
    fields = task_form.fields(db.session(), task_form.of_unit(me().department), schema, {}, [])
    return render_template("_form_preview.html", form=schema, fields=fields)


@bp.post("/validate")
def validate() -> Any:
    """A verdict, not a change: an invalid diagram is a 200 ``{valid: false}`` listing every error the lint finds."""
    try:
        bundle = _modeler_bundle()
    except InvalidInput as exc:
        return jsonify(valid=False, detail=exc.detail, errors=exc.errors)
    examined = examine(bundle.diagram, bundle.forms, bundle.decisions, db.session())
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
        definition, created = deploy.deploy(session, _modeler_bundle(), me().username)
    except (InvalidDiagram, InvalidInput) as exc:
        return _refused(exc)
    trail.record("process.deploy", f"{definition.key} v{definition.version}", created=created, sha256=definition.sha256)
    message = (
        _("已部署版本 %(v)d", v=definition.version) if created else _("与已部署的版本 %(v)d 相同", v=definition.version)
    )
    return jsonify(message=message, location=url_for(".edit", key=definition.key, version=definition.version))
