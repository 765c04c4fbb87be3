"""The item page's actions besides its diagram's tasks, as forms: progress, extension and its decision,
handing a unit's part on, an administrator's correction and withdrawal. The API's schemas judge the
fields and its engine calls and checks do the rest (a person who may not act gets 403 before the form
is read); a refused form comes back on the item's page with each message beside its field (``field_errors``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Response

from engine.deadlines import extensions
from engine.identity import permissions
from engine.items import corrections, delegation, items, progress
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import ExtensionRequest
from web import db
from web.api.schemas import (
    AssignSchema,
    CorrectionSchema,
    ExtensionCreateSchema,
    ExtensionDecisionSchema,
    ProgressCreateSchema,
    WithdrawSchema,
)
from web.pages import item, text
from web.pages.base import field_errors, me, once_form, require_login
from web.pages.errors import handle_on
from web.pages.item_actions import Sent

bp = Blueprint("actions", __name__)
bp.before_request(require_login)
handle_on(bp)


def _hints() -> dict[str, str]:
    """What each field of the progress, extension and hand-over forms accepts, said beside it when refused."""
    return {
        "note": _("请填写进展情况（不超过 5000 字）"),
        "percent": _("完成比例须为 0 到 100 之间的整数"),
        "plan": _("下步计划不超过 5000 字"),
        "new_deadline": _("请填写新的整改时限（日期）"),
        "reason": _("请填写延期理由（不超过 5000 字）"),
        "decision": _("请选择同意或不同意"),
        "comment": _("审批意见不超过 5000 字"),
        "assignee": _("请选择办理人"),
    }


def _admin_hints() -> dict[str, str]:
    """The correction's and withdrawal's: their other fields say what marshmallow found (``field_errors``)."""
    return {"reason": _("请填写理由（不超过 2000 字）")}


def _posted(names: tuple[str, ...]) -> dict[str, str]:
    """The fields of ``names`` the form sent, as typed."""
    return {name: request.form[name].strip() for name in names if name in request.form}


def _given(values: dict[str, str]) -> dict[str, str]:
    """The fields filled in: an empty one is one not sent."""
    return {name: value for name, value in values.items() if value}


def _load(schema: Schema, body: dict[str, Any], hints: dict[str, str]) -> dict[str, Any]:
    """The API's schema judges the fields, as it does the API's body."""
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        raise InvalidInput(_("提交的内容有误"), errors=field_errors(exc, hints)) from exc
    return loaded


def _act(item_id: int, form: str, values: dict[str, str], action: Callable[[], object], done: str) -> Response | str:
    """Run ``action``; refused input brings the item's page back with the form as typed (a page, so 200)."""
    try:
        action()
    except InvalidInput as exc:
        db.session().rollback()  # nothing of the refused action is kept
        said = field_errors(exc) or [{"field": "", "message": exc.detail}]
        return item.render(item_id, Sent(form, values, said))
    flash(done)
    return redirect(url_for("item.show", item_id=item_id))


@bp.post("/items/<int:item_id>/progress")
@once_form(_l("已提交，未重复提交"))
def report_progress(item_id: int) -> Response | str:
    session, user = db.session(), me()
    found = items.get_visible(session, user, item_id)
    permissions.require_progress_reporter(session, user.id, found)
    values = _posted(("note", "percent", "plan"))

    def report() -> None:
        update = progress.NewProgress(**_load(ProgressCreateSchema(), _given(values), _hints()))
        progress.report(session, user.id, found, update)

    return _act(item_id, "progress", values, report, _("已报送进展"))


@bp.post("/items/<int:item_id>/extensions")
@once_form(_l("已提交，未重复提交"))
def request_extension(item_id: int) -> Response | str:
    session, user = db.session(), me()
    found = items.get_visible(session, user, item_id)
    extensions.require_requester(user, found)
    values = _posted(("new_deadline", "reason"))

    def ask() -> None:
        body = _load(ExtensionCreateSchema(), _given(values), _hints())
        extensions.request(session, user, found, body["new_deadline"], body["reason"], db.today())

    return _act(item_id, "extension", values, ask, _("已提交延期申请，等待审批"))


@bp.post("/extensions/<int:request_id>/decision")
def decide_extension(request_id: int) -> Response | str:
    session, user = db.session(), me()
    found = session.get(ExtensionRequest, request_id)
    if found is None:
        raise NotFound(f"延期申请不存在 No extension request {request_id}")
    items.get_visible(session, user, found.item_id)
    extensions.require_decider(user, found)
    values = _posted(("decision", "comment"))

    def decide() -> None:
        body = _load(ExtensionDecisionSchema(), _given(values), _hints())
        decision = extensions.Decision(grant=body["decision"] == "grant", comment=body.get("comment"))
        extensions.decide(session, user, request_id, decision, db.settings().timezone)

    done = _("已同意延期") if values.get("decision") == "grant" else _("已驳回延期申请")
    return _act(found.item_id, "decision", values, decide, done)


@bp.post("/tasks/<int:task_id>/assign")
def assign(task_id: int) -> Response | str:
    session, user = db.session(), me()
    task = delegation.require_delegator(session, user, task_id)
    values = _posted(("assignee",))

    def hand_over() -> None:
        body = _load(AssignSchema(), _given(values), _hints())
        delegation.assign(session, user, task.id, body["assignee"])

    done = _("已指派：%(step)s", step=text.pick(task.title, str(get_locale())))
    return _act(task.item_id, f"assign-{task_id}", values, hand_over, done)


@bp.post("/items/<int:item_id>/withdraw")
def withdraw(item_id: int) -> Response | str:
    """撤销 (as ``POST /api/v1/items/{id}/withdraw``): the item stops, with the reason in its history."""
    permissions.require_admin(me())
    values = _posted(("reason",))

    def stop() -> None:
        body = _load(WithdrawSchema(), _given(values), _admin_hints())
        etag = request.form.get("etag") or None
        corrections.withdraw(db.session(), me(), item_id, body["reason"], etag, request.remote_addr)

    return _act(item_id, "withdraw", values, stop, _("已撤销事项"))


@bp.post("/items/<int:item_id>/correct")
def correct(item_id: int) -> Response | str:
    """更正 (as ``POST /api/v1/items/{id}/correct``): a field emptied is cleared (refused if required); the
    history keeps old and new. A field the form does not show (an ongoing item's deadline) is unchanged."""
    permissions.require_admin(me())
    values = _posted(("reason", *corrections.CORRECTABLE))

    def change() -> None:
        body = {name: value or None for name, value in values.items()}  # an empty field: null, as on the API
        fix = corrections.Correction(**_load(CorrectionSchema(), body, _admin_hints()))
        etag = request.form.get("etag") or None
        corrections.correct(db.session(), me(), item_id, fix, db.settings().timezone, etag, request.remote_addr)

    return _act(item_id, "correct", values, change, _("已更正事项"))
