"""The 总览 dashboard's figures: units now, closures per 旬 and per month, how long items are overdue.

The trends count what the rhythm reports count (``reports.figures``: raised, closed), so a chart never
disagrees with the 旬调度 or 月总结 table an office hands in (a test holds the two together). Labels are
left to the page's language: a trend point carries its period (``label`` / ``label_en``), an ageing
bucket its words in both languages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.items import due
from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.reports import reports
from engine.reports.report_xlsx import Label
from engine.store.clock import day_start
from engine.store.models import Department, Item, User

# Overdue ageing buckets: (label, first day overdue, last day overdue or None).
AGEING: tuple[tuple[Label, int, int | None], ...] = (
    (("1–7天", "1–7 days"), 1, 7),
    (("8–30天", "8–30 days"), 8, 30),
    (("31–90天", "31–90 days"), 31, 90),
    (("90天以上", "Over 90 days"), 91, None),
)
TREND_LENGTH = 6


@dataclass(frozen=True)
class UnitState:
    name: str
    open: int
    closed: int
    overdue: int  # a part of ``open``

    @property
    def on_time(self) -> int:
        """Open and not overdue: drawn under ``overdue`` so that the two stack up to ``open``."""
        return self.open - self.overdue


@dataclass(frozen=True)
class TrendPoint:
    period: reports.Period
    raised: int
    closed: int


def unit_states(session: Session, user: User, today: dt.date) -> list[UnitState]:
    overdue = due.overdue_clause(today)
    query = (
        select(
            Department.name,
            func.sum(case((Item.closed_at.is_(None), 1), else_=0)),
            func.sum(case((Item.closed_at.is_not(None), 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .join(Department, Department.id == Item.department_id)
        .where(visible_clause(user), counted_clause())
        .group_by(Department.id, Department.code, Department.name)
        .order_by(Department.code)
    )
    return [UnitState(name, int(o or 0), int(c or 0), int(d or 0)) for name, o, c, d in session.execute(query)]


def trend(session: Session, user: User, current: reports.Period, timezone: str) -> list[TrendPoint]:
    """The last periods up to ``current``, oldest first: raised and closed, as the reports count them.

    What ``reports.figures`` counts as raised (created in the period) and closed (closed in it), of the
    items it counts (seen by ``user``, not withdrawn), for every period in one pass over the items: six
    reports would read every item six times.
    """
    periods = [current]
    while len(periods) < TREND_LENGTH:
        periods.append(periods[-1].previous())
    periods.reverse()
    bounds = [(day_start(p.start, timezone), day_start(p.stop, timezone)) for p in periods]
    counts = []
    for start, stop in bounds:
        for moment in (Item.created_at, Item.closed_at):
            counts.append(func.sum(case((and_(moment >= start, moment < stop), 1), else_=0)))
    first, last = bounds[0][0], bounds[-1][1]
    touched = and_(Item.created_at < last, or_(Item.closed_at.is_(None), Item.closed_at >= first))
    row = session.execute(select(*counts).where(touched, visible_clause(user), counted_clause())).one()
    return [TrendPoint(period, int(row[2 * n] or 0), int(row[2 * n + 1] or 0)) for n, period in enumerate(periods)]


def current_periods(today: dt.date) -> tuple[reports.Period, reports.Period]:
    """The 旬 and the month ``today`` falls in."""
    return reports.containing("dispatch", today), reports.containing("monthly", today)


def overdue_ageing(session: Session, user: User, today: dt.date) -> list[tuple[Label, int]]:
    """How many open items are overdue by how long, every bucket counted in one pass."""
    buckets = []
    for _label, first, last in AGEING:
        # Overdue by N days: the deadline was N days before today.
        window = Item.deadline <= today - dt.timedelta(days=first)
        if last is not None:
            window = and_(window, Item.deadline >= today - dt.timedelta(days=last))
        buckets.append(func.sum(case((window, 1), else_=0)))
    row = session.execute(select(*buckets).where(due.overdue_clause(today), visible_clause(user))).one()
    return [(label, int(n or 0)) for (label, _first, _last), n in zip(AGEING, row, strict=True)]
