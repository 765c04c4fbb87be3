"""我的待办 Inbox: my ready tasks, overdue and oldest first; a task's page with its form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine.audit import history
from engine.identity import permissions
from engine.items import due, forms, items, migrations, review, workflow
from engine.store.errors import InvalidInput, StaleVersion, TaskNotReady
from engine.store.models import Department, Item, Task
from web import db
from web.api.schemas import InboxQuerySchema
from web.pages import item_actions, task_form, text, timeline
from web.pages.base import field_errors, me, once_form, once_url, require_login
from web.pages.errors import handle_on

bp = Blueprint("inbox", __name__)
bp.before_request(require_login)
handle_on(bp)


@dataclass(frozen=True)
class Row:
    task: Task
    item: Item
    unit: str
    days_left: int | None
    overdue: bool
    warning: bool
    returned: bool


def _row(task: Task, item: Item, unit_names: dict[str, str], today: dt.date, returned: bool) -> Row:
    return Row(
        task=task,
        item=item,
        unit=unit_names.get(task.instance_key or "", item.department.name),
        days_left=(item.deadline - today).days if item.deadline else None,
        overdue=due.is_overdue(item, today),
        warning=due.is_warning(item, today),
        returned=returned,
    )


@bp.get("/")
def home() -> Response:
    return redirect(url_for("inbox.list_tasks"))


@bp.get("/inbox")
def list_tasks() -> str:
    session, today = db.session(), db.today()
    try:
        page = InboxQuerySchema(only=("page",), unknown=EXCLUDE).load(request.args)["page"]
    except ValidationError:
        page = 1  # a page number that is none (an edited link): the first page
    tasks, total = items.inbox(session, me(), today, page)
    found = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_({t.item_id for t in tasks})))}
    names = {code: name for code, name in session.execute(select(Department.code, Department.name))}
    returned = review.returned(session, tasks)
    return render_template(
        "inbox.html",
        rows=[_row(task, found[task.item_id], names, today, task.id in returned) for task in tasks],
        total=total,
        page=page,
        pages=max(1, -(-total // items.INBOX_PAGE)),
        decisions=item_actions.decisions_for(session, me()),
        migrations=migrations.awaiting(session, me()),
    )


def _task_page(task: Task, values: dict[str, Any] | None, errors: list[dict[str, str]], notice: str = "") -> str:
    """The task's page; ``values`` None: not posted yet, so a task sent back starts from its last answer."""
    session = db.session()
    item = items.get_visible(session, me(), task.item_id)
    form = forms.form_of(items.task_model(session, item, task), task.name)
    returned = review.returns(session, [task]).get(task.id)
    if values is None:
        values = returned.previous if returned else {}
    submitted, updates = timeline.judged(session, item, review.what_to_judge(session, task))
    return render_template(
        "task.html",
        task=task,
        item=item,
        form=form or {},
        returned=returned,
        notice=notice,
        submitted=submitted,
        updates=updates,
        fields=task_form.fields(session, task_form.of_item(session, item, me(), task), form, values, errors),
        events=timeline.lines(session, item, history.events(session, item.id)),
        # A review noting 长效机制 is where a measure is proposed from the item.
        propose_measure="mechanism" in (form or {}).get("properties", {})
        and permissions.may_propose_measure(me(), item.department_id),
    )


def _finished(task: Task) -> Response:
    """A task done (or cancelled) already, opened or posted again (back button, old link): off to its item."""
    flash(_("此任务已办结，无需再次提交") if task.state == "completed" else _("此任务已取消，无需办理"))
    return redirect(url_for("item.show", item_id=task.item_id))


@bp.get("/tasks/<int:task_id>")
@once_url
def show(task_id: int) -> Response | str:
    task = workflow.authorize_task(db.session(), me(), task_id)
    if task.state in ("completed", "cancelled"):
        return _finished(task)
    return _task_page(task, None, [])


@bp.post("/tasks/<int:task_id>")
@once_form(_l("已提交，未重复提交"))
def complete(task_id: int) -> Response | str:
    session = db.session()
    task = workflow.authorize_task(session, me(), task_id)
    item = items.get_visible(session, me(), task.item_id)
    data = task_form.parse(forms.form_of(items.task_model(session, item, task), task.name), request.form)
    try:
        workflow.complete_task(session, me(), task_id, data, request.form.get("etag") or None)
    except TaskNotReady:
        session.rollback()
        return _finished(session.get_one(Task, task_id))
    except InvalidInput as exc:
        # Nothing was saved; the same form comes back with each message beside its field (a page, so 200).
        session.rollback()
        return _task_page(session.get_one(Task, task_id), data, field_errors(exc))
    except StaleVersion:
        # Someone changed the item meanwhile (e.g. a progress report): the answer is kept, to check and send again.
        session.rollback()
        notice = _("提交期间事项已被他人更新，请核对上方内容后再次提交")
        return _task_page(session.get_one(Task, task_id), data, [], notice)
    flash(_("已提交：%(step)s", step=text.pick(task.title, str(get_locale()))))
    return redirect(url_for("inbox.list_tasks"))
