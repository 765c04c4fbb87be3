"""The auditor's export of the history across items, with hashes, as JSON rows or an Excel workbook."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.store import xlsx
from engine.store.clock import day_start
from engine.store.models import Department, HistoryEvent, Item

MAX_ROWS = 200_000
COLUMNS = (
    ("item_id", "事项编号 Item"),
    ("title", "问题 Title"),
    ("department", "责任单位 Unit"),
    ("seq", "序号 Seq"),
    ("at", "时间 When (UTC)"),
    ("actor", "操作人 Actor"),
    ("action", "操作 Action"),
    ("task", "环节 Task"),
    ("status_from", "原状态 From"),
    ("status_to", "新状态 To"),
    ("data", "内容 Data"),
    ("prev_hash", "前一哈希 Previous hash"),
    ("hash", "哈希 Hash"),
)


@dataclass(frozen=True)
class ExportFilter:
    item_id: int | None = None
    actor: str | None = None
    action: str | None = None
    department: str | None = None
    since: dt.date | None = None  # office dates, both included
    until: dt.date | None = None


def rows(session: Session, flt: ExportFilter, timezone: str, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The events the filter selects, by item and sequence; at most ``limit`` (never over ``MAX_ROWS``)."""
    query = (
        select(HistoryEvent, Item.title, Department.code)
        .join(Item, Item.id == HistoryEvent.item_id)
        .join(Department, Department.id == Item.department_id)
    )
    if flt.item_id:
        query = query.where(HistoryEvent.item_id == flt.item_id)
    if flt.actor:
        query = query.where(HistoryEvent.actor == flt.actor)
    if flt.action:
        query = query.where(HistoryEvent.action == flt.action)
    if flt.department:
        query = query.where(Department.code == flt.department)
    if flt.since:
        query = query.where(HistoryEvent.at >= day_start(flt.since, timezone))
    if flt.until:
        query = query.where(HistoryEvent.at < day_start(flt.until + dt.timedelta(days=1), timezone))
    found = session.execute(query.order_by(HistoryEvent.item_id, HistoryEvent.seq).limit(min(limit, MAX_ROWS)))
    return [{**history.as_record(event), "title": title, "department": code} for event, title, code in found]


def data_text(data: dict[str, Any]) -> str:
    """An event's data as the auditor reads it: JSON, keys sorted, Chinese as it is."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def workbook(found: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "历史 History"
    sheet.append(xlsx.cells(sheet, [label for _, label in COLUMNS]))
    for row in found:
        values = {**row, "at": row["at"].astimezone(dt.UTC).replace(tzinfo=None)}
        values["data"] = data_text(row["data"])
        sheet.append(xlsx.cells(sheet, [values[name] for name, _ in COLUMNS]))
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKLM", (8, 40, 14, 6, 20, 14, 20, 18, 12, 12, 50, 66, 66), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
