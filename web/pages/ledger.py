"""问题清单 Ledger: the items a person may see, filtered, sorted and paged; export; import with a preview."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError
from werkzeug.wrappers import Response

from engine.identity import identity, permissions
from engine.items import items, sources, workflow
from engine.ledger import lasting, ledger, ledger_export
from engine.store.errors import InvalidInput, StaleVersion
from web import db
from web.api.downloads import XLSX, attachment
from web.api.schemas import ItemCreateSchema, ItemPageQuerySchema
from web.pages.base import field_errors, me, once_form, once_url, require_login
from web.pages.errors import handle_on
from web.uploads import check_ledger, workbook_body

bp = Blueprint("ledger", __name__, url_prefix="/ledger")
bp.before_request(require_login)
handle_on(bp)
STAGED_FOR = 24 * 3600  # an upload not confirmed within a day is dropped


def filter_labels() -> dict[str, str]:
    """Each filter of the list by the name its form gives it (page, due_within and the like come from links)."""
    return {
        "q": _("关键词"),
        "status": _("状态"),
        "department": _("责任单位"),
        "source": _("问题来源"),
        "category": _("问题类别"),
        "severity": _("严重程度"),
        "overdue": _("逾期"),
        "deadline_from": _("时限自"),
        "deadline_to": _("时限至"),
        "sort": _("排序"),
        "due_within": _("几天内到期"),
        "ongoing": _("长期坚持"),
        "incident": _("有异常"),
        "lasting": _("长效机制"),
        "page": _("页码"),
        "per_page": _("每页条数"),
    }


def _filter() -> tuple[items.ItemFilter | None, dict[str, Any], list[dict[str, str]]]:
    """The filter the query asks for (None when a field is wrong), the fields as typed, and each wrong one."""
    # Empty fields of the filter form mean "any"; what remains is checked as the API checks it.
    args = {key: value for key, value in request.args.items() if value != ""}
    try:
        query = ItemPageQuerySchema(unknown=EXCLUDE).load(args)
    except ValidationError as exc:
        labels = filter_labels()
        return None, args, [{**error, "label": labels[error["field"]]} for error in field_errors(exc)]
    return items.ItemFilter(**query), args, []


@bp.get("")
def index() -> str:
    flt, args, errors = _filter()
    session, today = db.session(), db.today()
    # A list under a filter that could not be applied would pass for the filtered one: none until it is fixed.
    listed: dict[str, Any] = {"items": [], "total": 0, "counts": {}, "pages": 1, "marks": {}}
    if flt is not None:
        found = items.list_items(session, me(), flt, today)
        pages = max(1, -(-found.total // flt.per_page))
        marks = lasting.of_items(session, me(), found.items, db.settings().recurrence_months)
        listed = {"items": found.items, "total": found.total, "counts": found.counts, "pages": pages, "marks": marks}
    return render_template(
        "ledger.html",
        flt=flt,
        args=args,
        errors=errors,
        departments=identity.departments(session),
        sources=[source.name for source in sources.listed(session)],  # old items keep a source taken off the list
        sorts=list(items.SORTS),
        months=db.settings().recurrence_months,
        **listed,
    )


@bp.get("/new")
@once_url
def new_item_form() -> str:
    permissions.require_reporter(me())
    return _new_item_page({}, [])


def _new_item_page(values: dict[str, Any], errors: list[dict[str, Any]]) -> str:
    departments = identity.departments(db.session())
    return render_template(
        "new_item.html", values=values, errors=errors, departments=departments, sources=sources.active(db.session())
    )


@bp.post("/new")
@once_form(_l("已登记，未重复创建"))
def create_item() -> Response | str:
    permissions.require_reporter(me())
    form = request.form
    fields = ("title", "description", "source", "category", "severity", "department", "deadline")
    values: dict[str, Any] = {key: form.get(key, "") for key in fields}
    values["ongoing"] = "ongoing" in form
    values["co_departments"] = form.getlist("co_departments")
    body = {key: value for key, value in values.items() if value not in ("", [])}
    try:
        new = ItemCreateSchema().load(body)
        item = workflow.create_item(
            db.session(),
            me(),
            workflow.NewItem(**{**new, "co_departments": tuple(new["co_departments"])}),
            db.settings().timezone,
        )
    except ValidationError as exc:
        return _new_item_page(values, field_errors(exc))
    except InvalidInput as exc:
        # Nothing was saved; the form comes back with each message beside its field (a page, so 200).
        db.session().rollback()
        return _new_item_page(values, exc.errors)
    flash(_("已登记：%(title)s", title=item.title))
    return redirect(url_for("item.show", item_id=item.id))


@bp.get("/export.xlsx")
def export() -> Response:
    flt, _args, errors = _filter()
    if flt is None:
        raise InvalidInput(_("筛选条件无效"), errors=errors)
    today = db.today()
    settings = db.settings()
    content = ledger_export.export(db.session(), me(), flt, today, settings.timezone, settings.recurrence_months)
    return Response(content, mimetype=XLSX, headers={"Content-Disposition": attachment(f"台账-{today}.xlsx")})


def _staging() -> Path:
    folder = db.settings().instance_path / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.xlsx"):
        if time.time() - old.stat().st_mtime > STAGED_FOR:
            old.unlink(missing_ok=True)
    return folder


def _staged(token: str) -> Path:
    # The file name carries its uploader: nobody else can preview or confirm it.
    if not token.isalnum():
        abort(404)
    path = _staging() / f"{me().id}-{token}.xlsx"
    if not path.exists():
        abort(404)
    return path


@bp.get("/import")
def import_form() -> str:
    permissions.require_reporter(me())
    return render_template("import.html", preview=None, token=None)


@bp.post("/import")
@workbook_body
def upload() -> Response:
    permissions.require_reporter(me())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(_("请选择台账文件"), errors=[{"field": "file", "message": _("请选择台账文件")}])
    token = secrets.token_hex(16)
    upload.save(_staging() / f"{me().id}-{token}.xlsx")
    return redirect(url_for("ledger.preview", token=token))


def _preview_page(token: str, plan: ledger.Plan, stale: bool = False) -> str:
    unit_names = {unit.code: unit.name for unit in identity.departments(db.session())}
    return render_template("import.html", preview=plan, token=token, stale=stale, unit_names=unit_names)


# No ``@once_url``: the preview's URL is one-time already (its upload goes at the confirmation).
@bp.get("/import/<token>")
def preview(token: str) -> str:
    permissions.require_reporter(me())
    with _staged(token).open("rb") as source:
        found, _vocabulary = check_ledger(source)
    return _preview_page(token, ledger.plan(db.session(), me(), found, db.settings().timezone))


@bp.post("/import/<token>")
@once_form(_l("已导入，未重复导入"))
def confirm(token: str) -> Response | str:
    """Apply exactly the plan the person saw (its fingerprint), or show the new plan if the items changed since."""
    path = _staged(token)
    with path.open("rb") as source:
        found, vocabulary = check_ledger(source)
    session, timezone = db.session(), db.settings().timezone
    try:
        done = ledger.apply(session, me(), found, vocabulary, timezone, request.form.get("fingerprint", ""))
    except StaleVersion:
        session.rollback()
        return _preview_page(token, ledger.plan(session, me(), found, timezone), stale=True)
    path.unlink(missing_ok=True)  # a twin of this post may have imported it first (web.once undoes this one)
    flash(
        _(
            "已导入：新登记 %(created)d 个，更新 %(updated)d 个，未变 %(unchanged)d 个",
            created=len(done.created),
            updated=len(done.updated),
            unchanged=done.unchanged,
        )
    )
    return redirect(url_for("ledger.index", sort="-id"))
