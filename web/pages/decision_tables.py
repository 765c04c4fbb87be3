"""决策表 Decision tables for designers: the deployed decisions, a new table from a template, the dmn-js table
editor with 试算 on the draft being edited, and deploy as a new version (``engine.bpmn.decisions``).

The page's script calls the endpoints here with the session and its CSRF token, as the BPMN modeler calls
``designer``'s: the API takes bearer tokens only. They answer JSON, refusals as problem+json naming the
field or the DMN element in the engine's "中文 English" words (their Chinese half alone names no element).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.wrappers import Response as BaseResponse

from engine.bpmn import decisions, dmn
from engine.identity import permissions
from engine.store.errors import InvalidDiagram, InvalidInput, NotFound, RectiflowError
from web import db, trail
from web.api.decision_schemas import EvaluateSchema
from web.pages.base import field_errors, me, require_login
from web.pages.errors import handle_on
from web.problems import problem

bp = Blueprint("decision_tables", __name__, url_prefix="/designer/decisions")
bp.before_request(require_login)
handle_on(bp)


@bp.before_request
def _designers_only() -> None:
    permissions.require_designer(me())


def _list_page(values: dict[str, str] | None = None, errors: list[dict[str, Any]] | None = None) -> str:
    listed = decisions.latest_of_each(db.session())
    return render_template("decision_list.html", decisions=listed, values=values or {}, errors=errors or [])


def _template(key: str, name: str) -> str:
    """The DMN a new table starts from: one input, one output, two rules (FIRST), in Python."""
    return render_template("decision_new.dmn.xml", key=key, name=name)


@bp.get("")
def index() -> BaseResponse | str:
    """The list; with ``?key=`` (the 新建决策表 form) a new table of that key, once the key is free and usable."""
    if "key" not in request.args:
        return _list_page()
    key, name = request.args.get("key", "").strip(), request.args.get("name", "").strip()
    values = {"key": key, "name": name}
    if not key:
        return _list_page(values, [{"field": "key", "message": _("此项为必填项")}])
    if key in decisions.DeployedKeys(db.session()):
        return _list_page(values, [{"field": "key", "message": _("决策「%(key)s」已存在：请在列表中打开它", key=key)}])
    try:
        dmn.parse(_template(key, name or key).encode("utf-8"))  # the engine's rules for a key and a name
    except InvalidDiagram:
        message = _(
            "决策标识须以字母或下划线开头，只含字母、数字和 _ - .，至多 %(key)d 个字符；名称至多 %(name)d 个字符",
            key=dmn.MAX_KEY,
            name=dmn.MAX_NAME,
        )
        return _list_page(values, [{"field": "key", "message": message}])
    return redirect(url_for(".edit", key=key, name=name or None))


@bp.get("/<key>")
def edit(key: str) -> str:
    """The editor on a deployed version (``?version=``, default the latest), or on a new table's template."""
    session = db.session()
    try:
        shown = decisions.versions_of(session, key)
    except NotFound:
        return render_template("decision_edit.html", key=key, xml=_template(key, request.args.get("name") or key))
    version = request.args.get("version", type=int)
    decision = shown[-1] if version is None else decisions.get(session, key, version)
    return render_template("decision_edit.html", key=key, xml=decision.dmn_xml, decision=decision, versions=shown)


def _refused(error: RectiflowError) -> Response:
    return problem(422, "Unprocessable Content", error.detail, error.errors)


@bp.post("/<key>/evaluate")
def evaluate(key: str) -> Response:
    """试算: the draft sent (``dmn``) or a deployed version over ``inputs``, as a business rule task evaluates it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(422, "Unprocessable Content", _("内容无效"), [{"field": "body", "message": _("内容无效")}])
    try:
        asked = EvaluateSchema().load(body)
        version, found = decisions.trial(db.session(), key, asked["inputs"], asked.get("version"), asked.get("dmn"))
    except ValidationError as exc:
        return problem(422, "Unprocessable Content", _("内容无效"), field_errors(exc))
    except (InvalidDiagram, InvalidInput) as exc:
        return _refused(exc)
    return jsonify(
        key=key,
        version=version,
        hit_policy=found.table.hit_policy,
        matched_rules=found.matched,
        outputs=found.outputs,
        problem=found.problem,
    )


@bp.post("/deploy")
def deploy() -> Response:
    """The edited DMN (the body) deployed: each decision in it a new version unless it repeats its latest."""
    try:
        deployed = decisions.deploy(db.session(), request.get_data(), me().username)
    except InvalidDiagram as exc:
        return _refused(exc)
    for decision, created in deployed:
        trail.record("decision.deploy", f"{decision.key} v{decision.version}", created=created, sha256=decision.sha256)
    # The page's own decision first (a file may hold several).
    decision, created = next(((d, c) for d, c in deployed if d.key == request.args.get("key")), deployed[0])
    message = (
        _("已部署 %(key)s 版本 %(v)d", key=decision.key, v=decision.version)
        if created
        else _("与已部署的 %(key)s 版本 %(v)d 相同", key=decision.key, v=decision.version)
    )
    flash(message)
    location = url_for(".edit", key=decision.key, version=decision.version)
    return jsonify(message=message, key=decision.key, version=decision.version, location=location)
