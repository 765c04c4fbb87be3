"""Importing a ledger (台账) workbook: a preview first, then all its items or none.

``ledger_import`` reads the sheet; this module checks what the sheet cannot know (the item's own
limits and vocabulary) and raises the items through the ordinary lifecycle, so an imported item is
indistinguishable from one raised by hand. Ledger columns the item has no field for (measures as
written, the owner's name, progress, remarks) are kept in the item's history, never dropped.

Three steps, so that parsing (the slow part, seconds for a big sheet) runs with no transaction
open: :func:`units` reads the department dictionary, the caller ends that transaction, :func:`check`
parses with the dictionary alone, and :func:`import_ledger` writes in a new transaction. A unit
removed in between is caught by ``workflow.create_item``, which checks the department again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import BinaryIO

from sqlalchemy.orm import Session

from engine.audit import history
from engine.identity import identity, permissions
from engine.items import workflow
from engine.items.items import SOURCES
from engine.ledger.ledger_import import (
    LedgerFormatError,
    LedgerPreview,
    LedgerRow,
    LedgerTooLarge,
    RowError,
    read_ledger,
)
from engine.store.config import ImportLimits
from engine.store.errors import InvalidInput, TooLarge
from engine.store.models import Item, User
from engine.store.text import unstorable

# The item's own limits (the same as the API's), checked per row so the preview shows them.
LIMITS = {"title": ("问题描述", 500), "category": ("问题类别", 100)}


def _row_errors(row: LedgerRow) -> list[RowError]:
    errors = []
    for field, (column, limit) in LIMITS.items():
        value = getattr(row, field)
        if value is not None and len(value) > limit:
            errors.append(RowError(row.row, column, f"超过 {limit} 字 Longer than {limit} characters"))
    if row.source is not None and row.source not in SOURCES:
        allowed = "、".join(SOURCES)
        errors.append(RowError(row.row, "问题来源", f"未知问题来源 Unknown source {row.source!r} (one of {allowed})"))
    for cell in dataclasses.fields(row):
        value = getattr(row, cell.name)
        reason = unstorable(value) if isinstance(value, str) else None
        if reason:
            errors.append(RowError(row.row, cell.name, reason))
    return errors


def units(session: Session) -> dict[str, str]:
    """Every department's name and code -> its code: how a ledger may name a unit."""
    found = identity.departments(session)
    # A code wins over another unit's name of the same spelling.
    return {**{unit.name: unit.code for unit in found}, **{unit.code: unit.code for unit in found}}


def check(source: BinaryIO, known_units: Mapping[str, str], limits: ImportLimits) -> LedgerPreview:
    """Read and check a workbook against ``known_units``; needs no database, saves nothing."""
    try:
        found = read_ledger(source, known_units.get, limits)
    except LedgerTooLarge as exc:
        raise TooLarge(str(exc), errors=[{"field": "file", "message": str(exc)}]) from exc
    except LedgerFormatError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "file", "message": str(exc)}]) from exc
    checked = LedgerPreview(rows=[], errors=list(found.errors), skipped=found.skipped)
    for row in found.rows:
        problems = _row_errors(row)
        if problems:
            checked.errors.extend(problems)
        else:
            checked.rows.append(row)
    checked.errors.sort(key=lambda error: error.row)
    return checked


def _kept_columns(row: LedgerRow) -> dict[str, object]:
    kept = {"row": row.row, "measures": row.measures, "owner": row.owner_name, "progress": row.progress}
    return {key: value for key, value in {**kept, "remarks": row.remarks}.items() if value is not None}


def import_ledger(session: Session, actor: User, checked: LedgerPreview, timezone: str) -> list[Item]:
    """Raise every row's item of a checked ledger in the caller's transaction; any row error refuses them all."""
    permissions.require_reporter(actor)
    if checked.errors:
        raise InvalidInput(
            f"台账有 {len(checked.errors)} 处错误，未导入任何事项 The ledger has {len(checked.errors)} errors: "
            "nothing was imported",
            errors=[dataclasses.asdict(error) for error in checked.errors],
        )
    created = []
    for row in checked.rows:
        new = workflow.NewItem(
            title=row.title,
            department=row.department,
            source=row.source,
            category=row.category,
            deadline=row.deadline,
            ongoing=row.ongoing,
            co_departments=tuple(row.co_departments),
        )
        item = workflow.create_item(session, actor, new, timezone)
        history.record_change(session, item, actor=actor.username, action="imported", data=_kept_columns(row))
        created.append(item)
    return created
