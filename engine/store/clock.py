"""The office clock: the office's date, where its days begin, and the instants timers are set to.

Everything here is counted in the office's time zone (``RECTIFLOW_TIMEZONE``) and handed on in UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# The timer date of an item without a deadline: never reached.
NEVER = "9999-12-31T00:00:00+00:00"


def today(timezone: str) -> dt.date:
    """The office's date now (``datetime.now`` so that tests can move time)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def day_start(day: dt.date, timezone: str) -> dt.datetime:
    """The instant the office's day begins, in UTC: the bound of deadlines, report periods and exports."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(timezone)).astimezone(dt.UTC)


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The office's calendar day of an instant (e.g. the day an item was registered)."""
    return instant.astimezone(ZoneInfo(timezone)).date()


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
