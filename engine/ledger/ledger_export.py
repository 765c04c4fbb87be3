"""The ledger (台账) as an ``.xlsx`` workbook: exactly the items a filter selects, in its order.

The columns carry the names ``ledger_import`` recognises, so an exported ledger can be read back;
the import ignores the columns it does not know (状态, 是否逾期, 办结时间, 撤销理由 and the 长效机制
columns after them). A withdrawn item (撤销) was never closed: its 办结时间 is blank, its status says so
and 撤销理由 says why. The 长效机制 columns (``engine.ledger.lasting``) come last, so that ledgers kept
from before them still line up: whether a closed item was closed with a lasting measure (and what its
review noted), the measures linked to it, the earlier items it looks like (曾整改过) and the
submissions it came from (来源反映).
Written in openpyxl's write-only mode: rows stream out, a ledger of 100,000 items fits in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.items import due, items
from engine.items.corrections import WITHDRAWN, is_withdrawn
from engine.ledger import lasting
from engine.measures import catalog, mechanism
from engine.store import xlsx
from engine.store.models import Department, HistoryEvent, Instance, Item, ItemUnit, ProgressUpdate, User
from engine.store.text import bilingual

COLUMNS = (
    ("序号", 6),
    ("编号", 8),
    ("登记日期", 12),
    ("问题描述", 40),
    ("问题来源", 12),
    ("问题类别", 12),
    ("严重程度", 10),
    ("整改措施", 40),
    ("责任单位", 16),
    ("配合单位", 20),
    ("责任人", 10),
    ("整改时限", 12),
    ("整改进度", 30),
    ("状态", 14),
    ("是否逾期", 8),
    ("办结时间", 18),
    ("备注", 30),
    ("撤销理由", 30),
    ("长效机制", 22),
    ("制度性措施", 30),
    ("曾整改过", 12),
    ("来源反映", 12),
)
TITLE = "问题清单台账"
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")


def _co_units(session: Session, item_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        select(ItemUnit.item_id, Department.name)
        .join(Department, Department.id == ItemUnit.department_id)
        .where(ItemUnit.item_id.in_(item_ids), ItemUnit.role == "co")
        .order_by(ItemUnit.item_id, ItemUnit.position)
    )
    found: dict[int, list[str]] = {}
    for item_id, name in rows:
        found.setdefault(item_id, []).append(name)
    return found


def _measures(session: Session, item_ids: list[int]) -> dict[int, str]:
    rows = session.execute(select(Instance.item_id, Instance.data).where(Instance.item_id.in_(item_ids)))
    return {item_id: str(data.get("measures") or "") for item_id, data in rows}


def _owner_names(session: Session, owner_ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(owner_ids)))
    return {user_id: name for user_id, name in rows}


def _progress(session: Session, item_ids: list[int]) -> dict[int, str]:
    """Each item's latest progress note."""
    rows = session.execute(
        select(ProgressUpdate.item_id, ProgressUpdate.note)
        .where(ProgressUpdate.item_id.in_(item_ids))
        .order_by(ProgressUpdate.item_id, ProgressUpdate.at, ProgressUpdate.id)
    )
    return {item_id: note for item_id, note in rows}


def _withdrawal_reasons(session: Session, batch: list[Item]) -> dict[int, str]:
    """Why each withdrawn item of the batch was withdrawn (its history's ``withdrawn`` event)."""
    withdrawn = [item.id for item in batch if is_withdrawn(item)]
    if not withdrawn:
        return {}
    rows = session.execute(
        select(HistoryEvent.item_id, HistoryEvent.data).where(
            HistoryEvent.item_id.in_(withdrawn), HistoryEvent.action == WITHDRAWN[0]
        )
    )
    return {item_id: str(data.get("reason") or "") for item_id, data in rows}


def _closed_at(item: Item, zone: ZoneInfo) -> dt.datetime | None:
    """When the item was closed (销号) in the office's time, as a naive cell value; a withdrawal is no closure."""
    if item.closed_at is None or is_withdrawn(item):
        return None
    return item.closed_at.astimezone(zone).replace(tzinfo=None)


def _lasting_cells(found: lasting.Lasting) -> list[str | None]:
    """长效机制, 制度性措施, 曾整改过 and 来源反映 of one item, in Chinese as the rest of the workbook."""
    verdict = None
    if found.lasting is not None:
        verdict = "有长效机制" if found.lasting else "无长效机制"
        if found.mechanism in mechanism.LABELS:
            verdict += f"（{mechanism.LABELS[found.mechanism][0]}）"
    titles = [
        m.title if m.status == catalog.Status.IN_FORCE else f"{m.title}（{catalog.STATUS_LABELS[m.status][0]}）"
        for m in found.measures
    ]
    numbers = [found.earlier, found.submissions]
    return [verdict, "、".join(titles) or None, *("、".join(f"#{n}" for n in listed) or None for listed in numbers)]


def _header(sheet: Worksheet, values: Iterable[Any]) -> list[Cell]:
    cells = xlsx.cells(sheet, values)
    for cell in cells:
        cell.font, cell.fill = Font(bold=True), _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return cells


def _batches(found: Iterable[Item], size: int = 500) -> Iterable[list[Item]]:
    batch: list[Item] = []
    for item in found:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def workbook(session: Session, user: User, found: Iterable[Item], today: dt.date, timezone: str, months: int) -> bytes:
    """The items as a ledger workbook: a title row, the header row, one row per item.

    ``user`` reads it (曾整改过 names only earlier items they may see); ``months``: ``Settings.recurrence_months``.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(TITLE)
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"
    sheet.append(xlsx.cells(sheet, [f"{TITLE}（导出于 {today.isoformat()}）"]))
    sheet.append(_header(sheet, (name for name, _ in COLUMNS)))
    zone = ZoneInfo(timezone)
    number = 0
    for batch in _batches(found):
        ids = [item.id for item in batch]
        co, measures, notes = _co_units(session, ids), _measures(session, ids), _progress(session, ids)
        owners = _owner_names(session, {item.owner_id for item in batch if item.owner_id is not None})
        reasons = _withdrawal_reasons(session, batch)
        marks = lasting.of_items(session, user, batch, months)
        for item in batch:
            number += 1
            sheet.append(
                xlsx.cells(
                    sheet,
                    [
                        number,
                        item.id,
                        item.created_at.astimezone(zone).date(),
                        item.title,
                        item.source,
                        item.category,
                        item.severity,
                        measures.get(item.id) or None,
                        item.department.name,
                        "、".join(co.get(item.id, [])) or None,
                        owners.get(item.owner_id) if item.owner_id is not None else None,
                        "长期坚持" if item.ongoing else item.deadline,
                        notes.get(item.id),
                        bilingual(item.status_label)[0],  # the workbook is in Chinese: "已销号", not "已销号 Closed"
                        "是" if due.is_overdue(item, today) else "否",
                        _closed_at(item, zone),
                        item.description or None,
                        reasons.get(item.id) or None,
                        *_lasting_cells(marks[item.id]),
                    ],
                )
            )
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def export(session: Session, user: User, flt: items.ItemFilter, today: dt.date, timezone: str, months: int) -> bytes:
    return workbook(session, user, items.all_items(session, user, flt, today), today, timezone, months)
