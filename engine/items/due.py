"""Deadlines (整改时限): when an item is due soon (预警) or overdue (逾期), counted in office days.

An item is overdue once its deadline day has passed without close-out, and in the warning window
from ``WARNING_DAYS`` days before the deadline until the deadline day itself. Items kept as
长期坚持 (ongoing) have no deadline and are never either.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_

from engine.store.models import Item

WARNING_DAYS = 3
# The workflow variable a diagram sets to propose a deadline, in days from the day the item is raised (the
# default lifecycle's decision table ``deadline_rule`` does): it fills the deadline of an item raised without one.
DEADLINE_DAYS_VARIABLE = "deadline_days"
# Longer than this is no deadline a table means (a typo such as 3000): the item keeps having none.
MAX_PROPOSED_DAYS = 3650


def warning_from(deadline: dt.date) -> dt.date:
    """The first day of the warning window (预警日期) for a deadline; the one place it is computed."""
    return deadline - dt.timedelta(days=WARNING_DAYS)


def proposed(item: Item, data: dict[str, Any], today: dt.date) -> dt.date | None:
    """The deadline the diagram proposes for a new ``item`` (``DEADLINE_DAYS_VARIABLE`` in its ``data``).

    None when the reporter gave a deadline (theirs stands), the item is ongoing, or the diagram proposes no
    whole number of days between 1 and ``MAX_PROPOSED_DAYS``.
    """
    days = data.get(DEADLINE_DAYS_VARIABLE)
    if item.deadline is not None or item.ongoing or isinstance(days, bool) or not isinstance(days, int):
        return None
    return today + dt.timedelta(days=days) if 0 < days <= MAX_PROPOSED_DAYS else None


def is_overdue(item: Item, on: dt.date) -> bool:
    return item.closed_at is None and item.deadline is not None and item.deadline < on


def is_warning(item: Item, on: dt.date) -> bool:
    return item.closed_at is None and item.deadline is not None and warning_from(item.deadline) <= on <= item.deadline


def state(item: Item, on: dt.date) -> str | None:
    """``overdue``, ``warning`` or None: the mark (and row colour) an item's deadline gives it today."""
    if is_overdue(item, on):
        return "overdue"
    return "warning" if is_warning(item, on) else None


def overdue_clause(on: dt.date) -> ColumnElement[bool]:
    """SQL twin of ``is_overdue``."""
    return and_(Item.closed_at.is_(None), Item.deadline < on)


def due_within_clause(on: dt.date, days: int) -> ColumnElement[bool]:
    """Open items whose deadline falls in the next ``days`` days (today included)."""
    return and_(Item.closed_at.is_(None), Item.deadline >= on, Item.deadline <= on + dt.timedelta(days=days))
