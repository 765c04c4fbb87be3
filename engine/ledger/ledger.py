"""Importing a ledger (台账) workbook: a plan first (creates, updates, unchanged), then all of it or none.

``ledger_import`` reads the sheet; this module checks what the sheet cannot know (the item's own
limits, the office's sources, the units' people) and compares each row with the item its 编号
names. A new row raises an item through the ordinary lifecycle and completes the steps the ledger
says were done (measures agreed, owner named), so an imported item is where a hand-raised one
would be, its history saying "imported"; a known row changes only the fields that differ.

Three steps, so that parsing (the slow part, seconds for a big sheet) runs with no transaction
open: :func:`known` reads the vocabulary, the caller ends that transaction, :func:`check` parses
with the vocabulary alone, and :func:`plan` / :func:`apply` compare and write in a new transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.deadlines import extensions
from engine.identity import identity, permissions
from engine.items import corrections, forms, items, progress, sources, workflow
from engine.ledger.ledger_import import (
    LedgerFormatError,
    LedgerPreview,
    LedgerRow,
    LedgerTooLarge,
    Problem,
    RowError,
    SkippedRow,
    Vocabulary,
    read_ledger,
)
from engine.store import clock, severity
from engine.store.config import ImportLimits
from engine.store.errors import InvalidInput, StaleVersion, TooLarge
from engine.store.models import Item, User
from engine.store.text import unstorable

# The item's own limits (the same as the API's), checked per row so the preview shows them.
LIMITS = {"title": ("问题描述", 500), "category": ("问题类别", 100)}
# The fields a ledger row carries, compared with its item, with the column each is shown under.
FIELDS = {
    "registered": "登记日期",
    "title": "问题描述",
    "source": "问题来源",
    "category": "问题类别",
    "severity": "严重程度",
    "deadline": "整改时限",
    "measures": "整改措施",
    "owner": "责任人",
    "progress": "整改进度",
    "remarks": "备注",
}
# An empty cell in these columns means "not given", never "clear it": the item keeps what it has.
KEPT_WHEN_EMPTY = frozenset({"registered", "severity", "measures", "owner", "progress"})
# The workflow steps a ledger can report as done: the workflow variable each is stored under.
STEP_FIELDS = {"measures": "measures", "owner": workflow.OWNER_VARIABLE}
ONGOING = "长期坚持"


@dataclass(frozen=True)
class Known:
    """What a ledger may name: units (name or code -> code), each unit's people (name -> username), sources."""

    units: dict[str, str]
    unit_names: list[str]
    people: dict[str, dict[str, str]]
    sources: list[str]


def known(session: Session) -> Known:
    found = identity.departments(session)
    people: dict[str, dict[str, str]] = {}
    for user in identity.users(session):
        if user.active and user.department is not None:
            names = people.setdefault(user.department.code, {})
            names.setdefault(user.display_name, user.username)
            names.setdefault(user.username, user.username)
    return Known(
        # A code wins over another unit's name of the same spelling.
        units={**{unit.name: unit.code for unit in found}, **{unit.code: unit.code for unit in found}},
        unit_names=[unit.name for unit in found],
        people=people,
        sources=sources.active(session),
    )


def _row_problems(row: LedgerRow, vocabulary: Known) -> list[Problem]:
    problems = []
    for key, (_column, limit) in LIMITS.items():
        value = getattr(row, key)
        if value is not None and len(value) > limit:
            problems.append(Problem(key, f"超过 {limit} 字 Longer than {limit} characters", value[:50] + "…"))
    if row.source is not None and row.source not in vocabulary.sources:
        message = f"未知问题来源 Unknown source: {row.source!r}"
        problems.append(Problem("source", message, row.source, "、".join(vocabulary.sources)))
    if row.owner_name and not row.measures and row.number is None and not row.co_departments:
        # The diagram names the owner after the measures are agreed: an owner alone would be silently dropped.
        message = "填写责任人时须同时填写整改措施 An owner is named once the measures are agreed: fill in 整改措施"
        problems.append(Problem("owner", message, row.owner_name, "整改措施与责任人一并填写，或都留空"))
    people = vocabulary.people.get(row.department, {})
    if row.owner_name is not None and row.department and row.owner_name not in people:
        names = sorted({name for name, username in people.items() if name != username}) or ["（该单位尚无人员）"]
        message = f"责任人不是责任单位的人员 Owner is not a person of the responsible unit: {row.owner_name!r}"
        problems.append(Problem("owner", message, row.owner_name, "、".join(names)))
    for cell in dataclasses.fields(row):
        value = getattr(row, cell.name)
        reason = unstorable(value) if isinstance(value, str) else None
        if reason:
            problems.append(Problem(cell.name, reason, value[:50]))
    return problems


def check(source: BinaryIO, vocabulary: Known, limits: ImportLimits) -> LedgerPreview:
    """Read and check a workbook against ``vocabulary``; needs no database, saves nothing."""
    accepted = Vocabulary("、".join(vocabulary.unit_names), lambda row: _row_problems(row, vocabulary))
    try:
        found = read_ledger(source, vocabulary.units.get, limits, accepted)
    except LedgerTooLarge as exc:
        raise TooLarge(str(exc), errors=[{"field": "file", "message": str(exc)}]) from exc
    except LedgerFormatError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "file", "message": str(exc)}]) from exc
    found.errors.sort(key=lambda error: error.row)
    return found


# --- comparing rows with items ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Update:
    row: LedgerRow
    item_id: int
    changes: list[Change]


@dataclass(frozen=True)
class Unchanged:
    row: int
    item_id: int


@dataclass
class Plan:
    """What confirming an upload would do; ``errors`` refuse all of it."""

    creates: list[LedgerRow] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Names this plan: a confirm applies it only if the same upload still plans the same."""
        shown = [
            [dataclasses.asdict(row) for row in self.creates],
            [(update.item_id, [dataclasses.astuple(c) for c in update.changes]) for update in self.updates],
            [dataclasses.astuple(u) for u in self.unchanged],
            [dataclasses.astuple(e) for e in self.errors],
        ]
        return hashlib.sha256(json.dumps(shown, default=str, ensure_ascii=False).encode()).hexdigest()[:32]


def _wanted(row: LedgerRow) -> dict[str, str | None]:
    """The row's values as the item's are shown; None for a kept-when-empty cell left empty."""
    values = {
        "registered": row.registered.isoformat() if row.registered else None,
        "title": row.title,
        "source": row.source or "",
        "category": row.category or "",
        "severity": row.severity,
        "deadline": ONGOING if row.ongoing else (row.deadline.isoformat() if row.deadline else ""),
        "measures": row.measures,
        "owner": row.owner_name,
        "progress": row.progress,
        "remarks": row.remarks or "",
    }
    return {key: (value or None) if key in KEPT_WHEN_EMPTY else value for key, value in values.items()}


def registered_on(item: Item, timezone: str) -> dt.date:
    """The item's registration date: the office's calendar day of its ``created_at``."""
    return clock.local_date(item.created_at, timezone)


def _current(session: Session, item: Item, timezone: str) -> dict[str, str]:
    data = items.data_of(session, item)
    latest = progress.latest(session, item)
    # Compared as a ledger cell reads: trimmed (the reader trims every cell).
    return {
        "registered": registered_on(item, timezone).isoformat(),
        "title": item.title.strip(),
        "source": (item.source or "").strip(),
        "category": (item.category or "").strip(),
        "severity": item.severity,
        "deadline": ONGOING if item.ongoing else (item.deadline.isoformat() if item.deadline else ""),
        "measures": str(data.get("measures") or "").strip(),
        "owner": item.owner.display_name if item.owner else "",
        "progress": latest.note.strip() if latest else "",
        "remarks": (item.description or "").strip(),
    }


def _units_of(session: Session, item: Item) -> tuple[str, list[str]]:
    codes = [unit.department.code for unit in items.units(session, item)]
    return codes[0], codes[1:]


def _compare(session: Session, item: Item, row: LedgerRow, timezone: str) -> Update | list[RowError]:
    lead, co = _units_of(session, item)
    if (lead, co) != (row.department, row.co_departments):
        message = "导入不能改变已登记事项的责任单位或配合单位 An import does not move an item to other units"
        return [RowError(row.row, "责任单位", message, row.department, lead)]
    current = _current(session, item, timezone)
    changes = [
        Change(key, FIELDS[key], current[key], new)
        for key, new in _wanted(row).items()
        if new is not None and new != current[key]
    ]
    if changes and corrections.is_withdrawn(item):
        message = "事项已撤销，导入不能修改 A withdrawn item takes no changes from an import"
        first = changes[0]
        return [RowError(row.row, FIELDS[first.field], message, first.new, first.old)]
    takes = _fillable(session, item)
    errors = [
        RowError(row.row, FIELDS[c.field], _step_done(c.label), c.new, c.old)
        for c in changes
        if c.field in STEP_FIELDS and c.field not in takes
    ]
    return errors or Update(row, item.id, changes)


def _step_done(label: str) -> str:
    return (
        f"{label}已在流程中确定，请在事项页面办理 {label} was set by the item's workflow: change it on the item's page"
    )


def plan(session: Session, actor: User, checked: LedgerPreview, timezone: str, lock: bool = False) -> Plan:
    """Compare each readable row with the item its 编号 names (one ``actor`` may see); ``lock`` the items."""
    result = Plan(errors=list(checked.errors), skipped=checked.skipped)
    for row in checked.rows:
        if row.number is None:
            result.creates.append(row)
            continue
        item = _item(session, actor, row.number, lock)
        if item is None:
            message = f"没有编号为 {row.number} 的事项 No item {row.number} that you may see"
            result.errors.append(
                RowError(row.row, "编号", message, str(row.number), "留空（新登记），或本系统导出台账中的编号")
            )
            continue
        compared = _compare(session, item, row, timezone)
        if isinstance(compared, list):
            result.errors.extend(compared)
        elif compared.changes:
            result.updates.append(compared)
        else:
            result.unchanged.append(Unchanged(row.row, item.id))
    result.errors.sort(key=lambda error: error.row)
    return result


def _item(session: Session, actor: User, number: int, lock: bool) -> Item | None:
    query = select(Item).where(Item.id == number, items.visible_clause(actor))
    found = session.scalar(query)
    return workflow.lock_item(session, found.id) if found is not None and lock else found


# --- writing ------------------------------------------------------------------------------------


def _fillable(session: Session, item: Item) -> dict[str, int]:
    """The step fields a ready task of the item asks for now: field -> that task's id."""
    found: dict[str, int] = {}
    for task in items.live_tasks(session, item):
        form = forms.form_of(items.task_model(session, item, task), task.name) or {}
        for key, variable in STEP_FIELDS.items():
            if task.state == "ready" and set(form.get("required", [])) == {variable}:
                found.setdefault(key, task.id)
    return found


def _advance(session: Session, actor: User, item: Item, row: LedgerRow, known_people: Mapping[str, str]) -> None:
    """Complete, in the diagram's order, each ready step whose field the row gives (measures, then owner)."""
    values = {"measures": row.measures, "owner": known_people.get(row.owner_name or "")}
    for _ in STEP_FIELDS:
        ready = {key: task_id for key, task_id in _fillable(session, item).items() if values.get(key)}
        if not ready:
            return
        key, task_id = next(iter(ready.items()))
        task = items.task_by_id(session, task_id)
        workflow.complete_imported(session, actor, task, {STEP_FIELDS[key]: values[key]})


def register(item: Item, row: LedgerRow, timezone: str) -> None:
    """Date the item by the row's 登记日期, if it has one (the import and the demo)."""
    if row.registered is not None:
        # Reports count an item in the period of its registration: the sheet's date, not the import's.
        item.created_at = clock.day_start(row.registered, timezone)


def new_item(row: LedgerRow) -> workflow.NewItem:
    """The item a ledger row raises (its 备注 is the item's description)."""
    return workflow.NewItem(
        title=row.title,
        description=row.remarks or "",
        department=row.department,
        source=row.source,
        category=row.category,
        severity=row.severity or severity.DEFAULT,
        deadline=row.deadline,
        ongoing=row.ongoing,
        co_departments=tuple(row.co_departments),
    )


def _create(session: Session, actor: User, row: LedgerRow, vocabulary: Known, timezone: str) -> Item:
    item = workflow.create_item(session, actor, new_item(row), timezone)
    register(item, row, timezone)
    kept = {"row": row.row, "measures": row.measures, "owner": row.owner_name, "progress": row.progress}
    history.record_change(
        session, item, actor=actor.username, action="imported", data={k: v for k, v in kept.items() if v is not None}
    )
    _advance(session, actor, item, row, vocabulary.people.get(row.department, {}))
    if row.progress:
        session.add(progress.imported(item, actor, row.progress))
    return item


def _update(session: Session, actor: User, update: Update, vocabulary: Known, timezone: str) -> Item:
    item = workflow.lock_item(session, update.item_id)
    row, changed = update.row, {change.field for change in update.changes}
    item.title, item.source, item.category, item.description = row.title, row.source, row.category, row.remarks or ""
    item.severity = row.severity or item.severity
    if "registered" in changed:
        register(item, row, timezone)
    if "deadline" in changed:
        item.ongoing = row.ongoing
        extensions.move_deadline(session, item, row.deadline, timezone)
    data = {"row": row.row, "changes": [dataclasses.asdict(change) for change in update.changes]}
    history.record_change(session, item, actor=actor.username, action="ledger_updated", data=data)
    _advance(session, actor, item, row, vocabulary.people.get(row.department, {}))
    if "progress" in changed and row.progress:
        session.add(progress.imported(item, actor, row.progress))
    return item


@dataclass(frozen=True)
class Applied:
    created: list[int]
    updated: list[int]
    unchanged: int


def apply(
    session: Session,
    actor: User,
    checked: LedgerPreview,
    vocabulary: Known,
    timezone: str,
    expected: str | None = None,
) -> Applied:
    """Carry out an upload's plan in the caller's transaction; any row error refuses all of it.

    ``expected`` is the fingerprint of the plan a person saw: if the items changed since, nothing is done.
    """
    permissions.require_reporter(actor)
    found = plan(session, actor, checked, timezone, lock=True)
    if expected is not None and expected != found.fingerprint:
        raise StaleVersion("事项在预览后已有变化，请重新预览 The items changed since the preview: preview again")
    if found.errors:
        raise InvalidInput(
            f"台账有 {len(found.errors)} 处错误，未导入任何事项 The ledger has {len(found.errors)} errors: "
            "nothing was imported",
            errors=[dataclasses.asdict(error) for error in found.errors],
        )
    created = [_create(session, actor, row, vocabulary, timezone).id for row in found.creates]
    updated = [_update(session, actor, update, vocabulary, timezone).id for update in found.updates]
    return Applied(created, updated, len(found.unchanged))
