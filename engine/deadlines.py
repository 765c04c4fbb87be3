"""Deadlines (整改时限): when an item is due soon (预警) or overdue (逾期), counted in office days.

An item is overdue once its deadline day has passed without close-out, and in the warning window
from ``WARNING_DAYS`` days before the deadline until the deadline day itself. Items kept as
长期坚持 (ongoing) have no deadline and are never either.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_

from engine.models import Item

WARNING_DAYS = 3


def today(timezone: str) -> dt.date:
    """The office's date now (``datetime.now`` so that tests can move time)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def day_start(day: dt.date, timezone: str) -> dt.datetime:
    """The instant the office's day begins, in UTC: the bound of deadlines, report periods and exports."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)


def is_overdue(item: Item, on: dt.date) -> bool:
    return item.closed_at is None and item.deadline is not None and item.deadline < on


def is_warning(item: Item, on: dt.date) -> bool:
    return (
        item.closed_at is None
        and item.deadline is not None
        and on <= item.deadline <= on + dt.timedelta(days=WARNING_DAYS)
    )


def overdue_clause(on: dt.date) -> ColumnElement[bool]:
    """SQL twin of ``is_overdue``."""
    return and_(Item.closed_at.is_(None), Item.deadline < on)


def due_within_clause(on: dt.date, days: int) -> ColumnElement[bool]:
    """Open items whose deadline falls in the next ``days`` days (today included)."""
    return and_(Item.closed_at.is_(None), Item.deadline >= on, Item.deadline <= on + dt.timedelta(days=days))


# The timer date of an item without a deadline: never reached.
NEVER = "9999-12-31T00:00:00+00:00"


def deadline_end(deadline: dt.date | None, timezone: str) -> str:
    """The instant an item becomes overdue (the end of its deadline day in the office), ISO 8601 in UTC.

    Diagrams read it as the workflow variable ``deadline_end`` in their timer expressions.
    """
    if deadline is None:
        return NEVER
    return day_start(deadline + dt.timedelta(days=1), timezone).isoformat()


def days_before(instant: str, days: float) -> str:
    """For timer expressions: ``days_before(deadline_end, 3)`` is the start of the warning window."""
    if instant == NEVER:
        return NEVER
    return (dt.datetime.fromisoformat(instant) - dt.timedelta(days=days)).isoformat()
