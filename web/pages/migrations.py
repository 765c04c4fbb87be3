"""流程迁移 Moving running items onto another version: a designer tries and asks, an approver or admin confirms.

The pages over ``engine.items.migrations``: the ask page (versions, the mapping of the steps the target lacks, a
dry run's item-by-item table), each process's migrations, and one migration with its table and its decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.bpmn import deploy
from engine.identity import permissions
from engine.items import migrations
from engine.store.errors import AlreadyDecided, InvalidInput
from engine.store.models import ProcessDefinition
from web import db
from web.api.migrations import MigrationAskSchema
from web.pages import text
from web.pages.base import field_errors, me, once_form, once_url, require_login
from web.pages.errors import handle_on
from web.pages.item_actions import allowed

bp = Blueprint("migration_pages", __name__, url_prefix="/processes")
bp.before_request(require_login)
handle_on(bp)

MAPPED = "mapping."


def _chosen(values: Mapping[str, str], versions: list[ProcessDefinition]) -> dict[str, str]:
    """The two versions asked about; by default the latest and the one before it."""
    chosen = {"from_version": str(versions[max(len(versions) - 2, 0)].version), "to_version": str(versions[-1].version)}
    return chosen | {name: values[name] for name in chosen if values.get(name)}


def _to_map(key: str, chosen: dict[str, str]) -> tuple[migrations.ToMap | None, list[dict[str, str]]]:
    """The mapping editor's rows for the chosen versions, or the fields' messages when they name no version."""
    versions: dict[str, int] = {}
    refused: list[dict[str, str]] = []
    for name, value in chosen.items():
        try:
            versions[name] = int(value)
        except ValueError:
            refused.append({"field": name, "message": _("请填写数字")})
    if refused:
        return None, refused
    try:
        return migrations.steps_to_map(db.session(), me(), key, versions["from_version"], versions["to_version"]), []
    except InvalidInput as exc:
        return None, field_errors(exc)


def _ask_page(
    key: str, values: Mapping[str, str], errors: list[dict[str, str]], report: list[dict[str, Any]] | None = None
) -> str:
    versions = deploy.versions_of(db.session(), key)
    chosen = _chosen(values, versions)
    to_map, refused = _to_map(key, chosen)
    # The fields the ask form shows its messages beside; the others' are said under it.
    steps = to_map.steps if to_map else ()
    shown = ["from_version", "to_version", "note", *(MAPPED + step.element for step in steps)]
    return render_template(
        "migration_ask.html",
        key=key,
        versions=versions,
        chosen=chosen,
        to_map=to_map,
        values=values,
        errors=[*errors, *(error for error in refused if error not in errors)],
        report=report,
        shown=shown,
    )


@bp.get("/<key>/migrations/new")
@once_url
def new(key: str) -> str:
    permissions.require_version_keeper(me())
    return _ask_page(key, request.args, [])


def _ask(form: Mapping[str, str]) -> tuple[migrations.Ask, bool]:
    """The posted form as the engine's ask, and whether it is a dry run; marshmallow's refusals name their field."""
    # A step left at （不映射） sends an empty value: its items stay blocked, as the dry run shows.
    mapping = {name[len(MAPPED) :]: value for name, value in form.items() if name.startswith(MAPPED) and value}
    body = MigrationAskSchema().load(
        {
            "from_version": form.get("from_version"),
            "to_version": form.get("to_version"),
            "mapping": mapping,
            "note": form.get("note", ""),
            "dry_run": form.get("action") == "dry_run",
        }
    )
    ask = migrations.Ask(body["to_version"], body["mapping"], from_version=body["from_version"], note=body["note"])
    return ask, body["dry_run"]


@bp.post("/<key>/migrations/new")
@once_form(_l("已提交，未重复提交"))
def ask(key: str) -> Response | str:
    """试运行 (a dry run: the page again with its table) or 提交确认 (the request, waiting for a confirmation)."""
    session = db.session()
    try:
        asked, dry_run = _ask(request.form)
        if dry_run:
            return _ask_page(key, request.form, [], migrations.dry_run(session, me(), key, asked))
        made = migrations.request(session, me(), key, asked, request.remote_addr)
    except (ValidationError, InvalidInput) as exc:
        session.rollback()
        return _ask_page(key, request.form, field_errors(exc))
    flash(_("已提交迁移申请，待审核人或管理员确认后执行"))
    return redirect(url_for(".one", key=key, migration_id=made.id))


@bp.get("/<key>/migrations")
def listed(key: str) -> str:
    found = migrations.listed(db.session(), me(), key)
    may_ask = allowed(partial(permissions.require_version_keeper, me()))
    return render_template("migration_list.html", key=key, migrations=found, may_ask=may_ask)


@bp.get("/<key>/migrations/<int:migration_id>")
def one(key: str, migration_id: int) -> str:
    found = migrations.get(db.session(), me(), key, migration_id)
    requested, mine = found.state == "requested", found.requested_by_id == me().id
    may_confirm = requested and not mine and allowed(partial(permissions.require_migration_confirmer, me()))
    return render_template(
        "migration_one.html", key=key, migration=found, may_confirm=may_confirm, may_withdraw=requested and mine
    )


@bp.post("/<key>/migrations/<int:migration_id>/<any(confirm,decline):decision>")
def decide(key: str, migration_id: int, decision: str) -> Response:
    """确认执行, 驳回 or (the asker's) 撤回; a decision already made is said, not shown as an error page."""
    session = db.session()
    try:
        if decision == "confirm":
            migrations.confirm(session, me(), key, migration_id, request.remote_addr)
            flash(_("已确认迁移，事项正在后台逐批迁移"))
        else:
            done = migrations.decline(session, me(), key, migration_id, request.remote_addr)
            flash(_("已撤回迁移申请") if done.requested_by_id == me().id else _("已驳回迁移申请"))
    except AlreadyDecided as exc:
        session.rollback()
        flash(text.pick(exc.detail, str(get_locale())))
    return redirect(url_for(".one", key=key, migration_id=migration_id))
