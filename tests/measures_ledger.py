"""A known ledger for the measures tests: items raised and closed at set times, with the mechanism noted.

Titles are chosen so that pg_trgm's similarity and the bigram overlap agree on which look alike
(东门路灯不亮 / 东门路灯不亮了: trigram 0.67, overlap 0.91; the others share no pair of characters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import Item

TZ = "Asia/Shanghai"
BJ = ZoneInfo(TZ)
STAFF = {"office": ("manager", "owner"), "works": ("works_manager", "outsider")}


@dataclass(frozen=True)
class Spec:
    title: str
    unit: str
    category: str | None
    raised: str  # Beijing time, "2026-01-05 09:00"
    closed: str | None = None
    mechanism: str | None = None  # noted at the review that closes it


LEDGER = [
    Spec("东门路灯不亮", "works", "市政设施", "2026-01-05 09:00", "2026-02-10 10:00", "measure_adopted"),
    Spec("食堂卫生差", "office", "后勤", "2026-01-06 09:00", "2026-02-11 10:00", "none_needed"),
    Spec("窗口排队时间长", "office", "服务", "2026-01-07 09:00", "2026-02-12 10:00"),
    # Raised in March: the first two came back (a similar title; the same unit and category), the third not.
    Spec("东门路灯不亮了", "works", "照明", "2026-03-03 09:00"),
    Spec("食堂餐具消毒不到位", "office", "后勤", "2026-03-04 09:00"),
    Spec("档案室漏水", "office", None, "2026-03-05 09:00"),
    # Over twelve months after 东门路灯不亮 was closed: not a recurrence of it any more.
    Spec("东门路灯不亮", "works", "市政设施", "2027-03-01 09:00"),
]


def closed_rows(known: Item, closed: dt.datetime, titles: Iterable[str], **fields: Any) -> list[dict[str, Any]]:
    """Rows of items like ``known`` but titled ``titles``, raised 30 days before ``closed`` and closed then (or as
    ``fields`` say): thousands bulk-inserted at once, without their workflow."""
    like = {
        "description": "",
        "department_id": known.department_id,
        "severity": known.severity,
        "ongoing": False,
        "status": "closed",
        "status_label": "已销号 Closed",
        "definition_id": known.definition_id,
        "version": 1,
        "created_at": closed - dt.timedelta(days=30),
        "updated_at": closed,
        "closed_at": closed,
    }
    return [{**like, **fields, "title": title} for title in titles]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BJ)


def complete(sessions: sessionmaker[Session], item_id: int, username: str, data: dict[str, Any]) -> None:
    with transaction(sessions) as session:
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)


def build(sessions: sessionmaker[Session], ledger: list[Spec] = LEDGER) -> list[int]:
    """The ledger through the engine's own workflow; the item ids in its order."""
    ids = []
    for spec in ledger:
        with time_machine.travel(at(spec.raised), tick=False), transaction(sessions) as session:
            new = workflow.NewItem(title=spec.title, department=spec.unit, category=spec.category)
            ids.append(workflow.create_item(session, identity.user_by_username(session, "reporter"), new, TZ).id)
        if spec.closed:
            manager, owner = STAFF[spec.unit]
            review = {"decision": "approve", **({"mechanism": spec.mechanism} if spec.mechanism else {})}
            steps = [(manager, {"measures": "m"}), (manager, {"owner": owner}), (owner, {"result": "r"})]
            with time_machine.travel(at(spec.closed), tick=False):
                for username, data in [*steps, ("approver", review)]:
                    complete(sessions, ids[-1], username, data)
    return ids
