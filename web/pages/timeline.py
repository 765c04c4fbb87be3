"""An item's history as lines for people: who (name and unit), when, a sentence for what, the status
move by its labels and the submitted fields by their form titles.

The history stores machine values (usernames, unit codes, status names, task ids, form keys); this is
the one place that turns them into words, for the item page and the task page alike. Users and units
are looked up once per page (one query each), never once per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn import deploy
from engine.items import called_steps, corrections, forms, items, review, review_form
from engine.store.models import Attachment, Department, HistoryEvent, Item, ProcessDefinition, ProgressUpdate, User
from web.pages import evidence, text

# Kept in the history for the audit, meaningless to a reader of the page.
HIDDEN = {"process", "definition", "incident", "request", "row", "data", "resolved", "message", called_steps.CALLED}
# Fields whose value is a person's username or a unit's code, whatever the form says.
PEOPLE_KEYS = {"assignee", "owner"}
UNIT_KEYS = {"department", "co_departments", "unit"}
# A correction's data: ``{field: {"from": old, "to": new}}``.
CHANGES = "changes"
DATE_KEYS = {"deadline", "current_deadline", "new_deadline"}
# An evidence file's event: its sentence names the file and its size; the hash is shown short.
FILE_KEYS = {"attachment_id", "filename", "size", "media_type", "task_id", "task"}
PEOPLE_FORMATS = {"username", "department-member"}


@dataclass
class Line:
    at: dt.datetime
    action: str
    who: str
    unit: str
    what: str
    move: str = ""
    reason: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Names:
    people: dict[str, tuple[str, str]]  # username -> (display name, unit name)
    units: dict[str, str]  # code -> name
    files: dict[int, str] = field(default_factory=dict)  # evidence file id -> its name

    def file(self, value: object) -> str:
        return self.files.get(value, f"#{value}") if isinstance(value, int) else str(value)

    def person(self, username: str) -> str:
        return self.people.get(username, (username, ""))[0]

    def unit(self, code: str) -> str:
        return self.units.get(code, code)


def _field_labels() -> dict[str, str]:
    # Fields the product itself records (creation, progress, extension, import), not a form's.
    return {
        "title": _("事项标题"),
        "department": _("责任单位"),
        "co_departments": _("配合单位"),
        "source": _("问题来源"),
        "category": _("问题类别"),
        "severity": _("严重程度"),
        "deadline": _("整改时限"),
        "ongoing": _("长期整改"),
        "note": _("进展情况"),
        "percent": _("完成比例"),
        "plan": _("下步计划"),
        "current_deadline": _("原整改时限"),
        "new_deadline": _("申请延至"),
        "measures": _("整改措施"),
        "owner": _("责任人"),
        "progress": _("整改进展"),
        "remarks": _("备注"),
        "registered": _("登记日期"),
        "assignee": _("办理人"),
        "unit": _("单位"),
        "description": _("详细情况"),
        # What a decision table read and gave (``decision`` events).
        "inputs": _("决策依据"),
        "outputs": _("决策结果"),
        "matched_rules": _("命中规则"),
        "sha256": "SHA-256",
    }


# What a page says something about: who acted, on which form, with which data.
_Record = tuple[str | None, dict[str, Any], dict[str, Any]]


def _strings(records: Iterable[_Record]) -> tuple[set[str], set[str]]:
    """Every username and unit code the records name, to look them all up at once."""
    people: set[str] = set()
    units: set[str] = set()
    for actor, form, data in records:
        if actor:
            people.add(actor)
        properties = form.get("properties", {})
        for key, value in _flat(data):
            values = value if isinstance(value, list) else [value]
            spec = properties.get(key, {})
            spec = spec.get("items", spec) if isinstance(spec, dict) else {}
            if key in PEOPLE_KEYS or spec.get("format") in PEOPLE_FORMATS:
                people.update(v for v in values if isinstance(v, str))
            elif key in UNIT_KEYS or spec.get("format") in forms.UNIT_FORMATS:
                units.update(v for v in values if isinstance(v, str))
    return people, units


def _flat(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The event's fields, a correction's old and new values among them (each under its field's key)."""
    changes = data.get(CHANGES)
    found = [(key, value) for key, value in data.items() if key != CHANGES]
    if isinstance(changes, dict):
        found += [(key, [change.get("from"), change.get("to")]) for key, change in changes.items()]
    return found


def _names(session: Session, people: set[str], units: set[str]) -> _Names:
    found: dict[str, tuple[str, str]] = {}
    if people:
        rows = session.execute(
            select(User.username, User.display_name, Department.name)
            .outerjoin(Department, User.department_id == Department.id)
            .where(User.username.in_(people))
        )
        for username, display_name, unit in rows:
            found[username] = (display_name or username, unit or "")
    codes: dict[str, str] = {}
    if units:
        codes = dict(session.execute(select(Department.code, Department.name).where(Department.code.in_(units))).all())
    return _Names(found, codes)


def _file_names(session: Session, item: Item) -> dict[int, str]:
    """The item's evidence files' names by id, removed ones too (the history names them): one query."""
    return dict(session.execute(select(Attachment.id, Attachment.filename).where(Attachment.item_id == item.id)).all())


def _task_form(model: dict[str, Any], task: str | None) -> dict[str, Any]:
    form: dict[str, Any] = (model.get("tasks", {}).get(task) or {}).get("form") or {}
    return form


def _form(model: dict[str, Any], event: HistoryEvent) -> dict[str, Any]:
    return _task_form(model, event.task) if event.action in ("completed", "imported") else {}


class _Presenter:
    def __init__(self, model: dict[str, Any], names: _Names, locale: str) -> None:
        self.model = model
        self.names = names
        self.locale = locale
        self.labels = _field_labels()
        statuses = model.get("statuses", {}).values()
        self.status_labels = {s["status"]: s["label"] for s in statuses}
        self.status_labels.setdefault(corrections.WITHDRAWN[0], corrections.WITHDRAWN[1])
        for task in model.get("tasks", {}).values():
            if task.get("status"):
                self.status_labels.setdefault(task["status"], task.get("status_label") or task["status"])

    def pick(self, value: object) -> str:
        return text.pick(value, self.locale)

    def task_title(self, task: str | None) -> str:
        spec = self.model.get("tasks", {}).get(task) or self.model.get("external", {}).get(task) or {}
        return self.pick(spec.get("title") or _("某个步骤"))

    def status(self, status: str | None) -> str:
        return self.pick(self.status_labels.get(status or "", status or "—"))

    def value(self, key: str, spec: dict[str, Any], value: Any) -> str:
        if isinstance(value, list):
            inner = spec.get("items", {}) if isinstance(spec.get("items"), dict) else {}
            return "、".join(self.value(key, inner, v) for v in value)
        if isinstance(value, bool):
            return _("是") if value else _("否")
        if isinstance(value, dict):
            return "；".join(f"{self.labels.get(k, k)}：{self.value(k, {}, v)}" for k, v in value.items())
        choice = forms.choice_label(spec, value)
        if choice is not None:
            return self.pick(choice)
        if key in PEOPLE_KEYS or spec.get("format") in PEOPLE_FORMATS:
            return self.names.person(str(value))
        if key in UNIT_KEYS or spec.get("format") in forms.UNIT_FORMATS:
            return self.names.unit(str(value))
        if spec.get("format") == "attachment":
            return self.names.file(value)
        if key in DATE_KEYS or spec.get("format") == "date":
            try:
                return text.day(dt.date.fromisoformat(str(value)))
            except ValueError:
                return str(value)
        return self.plain(key, value)

    def plain(self, key: str, value: Any) -> str:
        """A value of no form format: a percentage, a file's hash (its short form), a text."""
        if key == "percent":
            return f"{value}%"
        if key == "sha256":
            return f"{str(value)[:12]}…"
        return self.pick(value)

    def fields(self, answers: list[forms.Answer], skip: set[str] | None = None) -> list[tuple[str, str]]:
        """Each answer as (its form's title, or the product's label for its key; its value in words)."""
        hidden = HIDDEN | (skip or set())
        return [
            (
                self.pick(answer.title) if answer.title else self.labels.get(answer.key, answer.key),
                self.value(answer.key, answer.spec, answer.value),
            )
            for answer in answers
            if answer.key not in hidden
        ]

    def details(self, event: HistoryEvent, skip: set[str]) -> list[tuple[str, str]]:
        data = {key: value for key, value in event.data.items() if key != CHANGES}
        return self.changes(event.data.get(CHANGES)) + self.fields(forms.answers(_form(self.model, event), data), skip)

    def changes(self, changes: object) -> list[tuple[str, str]]:
        """A correction, field by field: old → new."""
        if not isinstance(changes, dict):
            return []
        shown = []
        for key, change in changes.items():
            old, new = (self.value(str(key), {}, change.get(end)) or "—" for end in ("from", "to"))
            shown.append((self.labels.get(str(key), str(key)), f"{old} → {new}"))
        return shown

    def line(self, event: HistoryEvent) -> Line:
        data = event.data or {}
        what, skip = self.sentence(event, data)
        called = _called(event)
        if called is not None:
            what = _("%(what)s（调用的流程 %(key)s 第 %(version)s 版）", what=what, key=called[0], version=called[1])
        who, unit = self.names.people.get(event.actor or "", (event.actor or _("系统"), ""))
        moved = event.status_to and event.status_from != event.status_to
        return Line(
            at=event.at,
            action=event.action,
            who=who,
            unit=unit,
            what=what,
            move=f"{self.status(event.status_from)} → {self.status(event.status_to)}" if moved else "",
            # An incident's error message is its reason: an administrator needs to read it.
            reason=str(data.get("comment") or data.get("reason") or data.get("message") or ""),
            details=self.details(event, skip | {"comment", "reason"}),
        )

    def sentence(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        """What happened, in a sentence; and the data keys the sentence already says."""
        sentences: dict[str, Callable[[HistoryEvent, dict[str, Any]], tuple[str, set[str]]]] = {
            "created": lambda e, d: (_("登记了事项"), set()),
            "completed": self._completed,
            "assigned": self._assigned,
            "progress": lambda e, d: (_("报送了整改进展"), set()),
            "escalation": self._escalation,
            "timer": lambda e, d: (_("定时事件已触发"), set()),
            "incident": lambda e, d: (_("流程在“%(step)s”处出错", step=self.task_title(e.task)), set()),
            "incident_retried": self._retried,
            "external_completed": lambda e, d: (
                _(
                    "外部系统（%(worker)s）完成了“%(step)s”",
                    worker=d.get("worker", ""),
                    step=self.task_title(e.task),
                ),
                {"worker", "topic", "variables"},
            ),
            "decision": lambda e, d: (
                _(
                    "按决策表“%(decision)s”第 %(version)s 版确定了“%(step)s”",
                    decision=d.get("decision", ""),
                    version=d.get("version", ""),
                    step=self.task_title(e.task),
                ),
                {"decision", "version", "hit_policy"},
            ),
            "imported": self._imported,
            "ledger_updated": self._ledger_updated,
            "extension_requested": lambda e, d: (_("申请延期至 %(day)s", day=self._day(d, "new_deadline")), set()),
            "extension_granted": lambda e, d: (_("同意延期至 %(day)s", day=self._day(d, "new_deadline")), set()),
            "extension_refused": lambda e, d: (_("不同意延期"), set()),
            "withdrawn": lambda e, d: (_("撤销了事项"), set()),
            "message_received": lambda e, d: (_("发来消息“%(name)s”", name=d.get("message", "")), {"message"}),
            "corrected": lambda e, d: (_("更正了登记信息"), set()),
            "measure_linked": lambda e, d: (
                _("关联了制度性措施“%(title)s”", title=d.get("title", "")),
                {"measure", "title", "kind", "status"},
            ),
            "measure_adopted": lambda e, d: (
                _("制度性措施“%(title)s”开始施行", title=d.get("title", "")),
                {"measure", "title", "kind", "status"},
            ),
            "attachment_added": lambda e, d: (_("上传了佐证材料“%(name)s”（%(size)s）", **self._file(d)), FILE_KEYS),
            "attachment_removed": lambda e, d: (_("删除了佐证材料“%(name)s”（%(size)s）", **self._file(d)), FILE_KEYS),
        }
        known = sentences.get(event.action)
        if known is None:
            return _("记录了“%(action)s”", action=event.action.replace("_", " ")), set()
        return known(event, data)

    def _file(self, data: dict[str, Any]) -> dict[str, str]:
        size = data.get("size")
        return {"name": str(data.get("filename", "")), "size": text.size(size) if isinstance(size, int) else ""}

    def _day(self, data: dict[str, Any], key: str) -> str:
        return self.value(key, {}, data.get(key) or "")

    def _completed(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        step = self.task_title(event.task)
        if review_form.is_rejection(data):
            return _("退回了“%(step)s”", step=step), {review_form.DECISION}
        if data.get(review_form.DECISION) == review_form.APPROVE:
            return _("通过了“%(step)s”", step=step), {review_form.DECISION}
        return _("完成了“%(step)s”", step=step), set()

    def _imported(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        if event.task:
            return _("按台账导入，完成了“%(step)s”", step=self.task_title(event.task)), set()
        return _("从台账导入了事项"), set()

    def _ledger_updated(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        changes = "；".join(
            f"{self._label(c)}：{c.get('old') or '—'} → {c.get('new') or '—'}" for c in data.get("changes", [])
        )
        return _("按台账更新了：%(changes)s", changes=changes), {"changes"}

    def _label(self, change: dict[str, Any]) -> str:
        return self.labels.get(str(change.get("field")), str(change.get("label")))

    def _assigned(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        person = self.names.person(str(data.get("assignee", "")))
        return _("将“%(step)s”指派给 %(person)s", step=self.task_title(event.task), person=person), {"assignee"}

    def _escalation(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        on = text.day(event.at)
        kind = data.get("kind")
        if kind == "warning":
            return _("%(day)s 已预警：整改时限将至", day=on), {"kind", "name"}
        if kind == "overdue":
            return _("%(day)s 逾期督办：已过整改时限", day=on), {"kind", "name"}
        return _("%(day)s 督办：%(name)s", day=on, name=self.pick(data.get("name") or "")), {"kind", "name"}

    def _retried(self, event: HistoryEvent, data: dict[str, Any]) -> tuple[str, set[str]]:
        step = self.task_title(event.task)
        if data.get("resolved"):
            return _("重试“%(step)s”，故障已排除", step=step), set()
        return _("重试“%(step)s”，仍然出错", step=step), set()


def _called(event: HistoryEvent) -> tuple[str, int] | None:
    """The called process (key, version) a step of the history was part of (``engine.items.called_steps``)."""
    marker = (event.data or {}).get(called_steps.CALLED)
    return (str(marker["key"]), int(marker["version"])) if isinstance(marker, dict) else None


def lines(session: Session, item: Item, events: list[HistoryEvent]) -> list[Line]:
    """The item's events as lines, in the page's language; a called process's steps read from its own model."""
    models: dict[tuple[str, int] | None, dict[str, Any]] = {
        None: session.get_one(ProcessDefinition, item.definition_id).model or {}
    }
    for called in {found for event in events if (found := _called(event)) is not None}:
        models[called] = deploy.get(session, *called).model or {}
    records = ((event.actor, _form(models[_called(event)], event), event.data) for event in events)
    names, locale = _names(session, *_strings(records)), str(get_locale())
    names.files = _file_names(session, item)
    presenters = {called: _Presenter(model, names, locale) for called, model in models.items()}
    return [presenters[_called(event)].line(event) for event in events]


@dataclass
class Section:
    """One earlier step's answer (or one progress update) on a task page, in words."""

    step: str
    unit: str
    who: str
    at: dt.datetime | None
    details: list[tuple[str, str]]
    files: list[evidence.Shown] = field(default_factory=list)  # shown with their previews, not in ``details``


def _progress_data(update: ProgressUpdate) -> dict[str, Any]:
    return {"note": update.note, "percent": update.percent, "plan": update.plan}


def judged(session: Session, item: Item, found: review.Judged) -> tuple[list[Section], list[Section]]:
    """What a task's person judges (``engine.items.review.what_to_judge``): the earlier steps, the progress."""
    model = items.definition_of(session, item).model or {}
    steps = [(s, s.task.completed_by.username if s.task.completed_by else None) for s in found.submissions]
    records: list[_Record] = [
        (who, _task_form(items.task_model(session, item, s.task), s.task.name), s.task.data or {}) for s, who in steps
    ]
    people, units = _strings(records)
    presenter = _Presenter(model, _names(session, people, units), str(get_locale()))
    presenter.names.files = _file_names(session, item)
    submitted = [
        Section(
            step=presenter.pick(s.task.title),  # the step's own title, a called process's too
            unit=s.unit or (presenter.names.people.get(who, ("", ""))[1] if who else ""),
            who=presenter.names.person(who) if who else "",
            at=s.task.completed_at,
            details=presenter.fields(s.answers, {a.key for a in s.answers if forms.is_files(a.spec)}),
            files=evidence.read_only(s.files),
        )
        for s, who in steps
    ]
    updates = [
        Section(
            step=_("整改进展"),
            unit=update.actor.department.name if update.actor.department else "",
            who=update.actor.display_name,
            at=update.at,
            details=presenter.fields(forms.answers(None, _progress_data(update))),
        )
        for update in found.progress
    ]
    return submitted, updates
