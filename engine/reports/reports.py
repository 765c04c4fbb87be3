"""Rhythm reports: 旬调度 (ten-day dispatch), 月总结 (monthly summary), 周计划 (week plan).

Periods. A 旬 is days 1–10 (上旬), 11–20 (中旬) or 21 to the end of the month (下旬), written
``2026-11-2``; a month is ``2026-11``; a week is an ISO week (Monday to Sunday), ``2026-W48``.
A period is ``[start, stop)`` in the office time zone (``Settings.timezone``); items keep UTC
instants, so the bounds are converted to UTC before they are compared. The next period is the
next 旬, month or week. A report can be narrowed to one unit (``scope``): its title names it.

Figures, per unit (the item's lead/responsible department, ``Item.department_id``) and in total,
over the items the reader may see (``items.visible_clause``):

- open at start (期初在办): created before start, and not closed or closed at/after start;
- raised (本期新增): created in the period;
- closed (本期销号): ``closed_at`` in the period;
- open at end: created before stop, and not closed or closed at/after stop;
- overdue (逾期): open at end, not ongoing (长期坚持), deadline < the stop date (the deadline
  day has passed when the period ends);
- due next (下期到期): open at end, not ongoing, deadline within the next period;
- no progress (本期无进展): open during the period (open at start or raised), not closed in it
  (closing is progress), and no progress update with ``at`` in the period;
- closure rate (销号率): closed / (open at start + raised), 4 decimals; null when that is 0;
- average days to close (平均办结天数): mean of ``closed_at - created_at`` in days over the items
  closed in the period, 1 decimal; null when none closed.

Withdrawn items (撤销, registered by mistake: ``engine.items.corrections``) count nowhere.

Every unit with an item open during the period is listed, ordered by department code. The
figures are SQL aggregates (one ``GROUP BY`` query), not items loaded into Python.

The monthly summary (月总结) also lists the measures (制度性措施) adopted in the month, by adoption date
(``engine.measures.figures.adopted``).

Week plan: for each item (grouped by its lead unit) with progress updates made in the week that
carry a non-blank ``plan``, the latest such plan: what the unit will do the next week.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from engine.identity.identity import department_by_code
from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.measures.figures import adopted
from engine.store.clock import day_start
from engine.store.errors import InvalidInput
from engine.store.models import Department, Item, Measure, ProgressUpdate, User

KINDS = ("week", "dispatch", "monthly")
XUN = ("上旬", "中旬", "下旬")
MIN_YEAR, MAX_YEAR = 1900, 2999
_FORMATS = {
    "dispatch": (r"([0-9]{4})-([0-9]{2})-([1-3])", "旬应写作 YYYY-MM-N（N 为 1、2、3） Write a 旬 as YYYY-MM-N, N 1–3"),
    "monthly": (r"([0-9]{4})-([0-9]{2})", "月份应写作 YYYY-MM Write a month as YYYY-MM"),
    "week": (r"([0-9]{4})-W([0-9]{2})", "周应写作 YYYY-Www（ISO 周） Write an ISO week as YYYY-Www"),
}


class InvalidPeriod(ValueError):
    """A period string that names no period; the message says how to write one."""


@dataclass(frozen=True)
class Period:
    kind: str
    label: str
    start: dt.date
    stop: dt.date  # the day after the last

    @property
    def end(self) -> dt.date:
        """The last day, as reports print it."""
        return self.stop - dt.timedelta(days=1)

    @property
    def code(self) -> str:
        """The period as ``parse`` reads it: ``2026-11-2``, ``2026-11``, ``2026-W48``."""
        if self.kind == "week":
            year, week_number, _ = self.start.isocalendar()
            return f"{year}-W{week_number:02d}"
        code = f"{self.start.year}-{self.start.month:02d}"
        return f"{code}-{(self.start.day - 1) // 10 + 1}" if self.kind == "dispatch" else code

    @property
    def label_en(self) -> str:
        """The label in English: ``November 2026, days 11–20``, ``November 2026``, ``week 48 of 2026``."""
        if self.kind == "week":
            year, week_number, _ = self.start.isocalendar()
            return f"week {week_number} of {year}"
        named = f"{self.start:%B} {self.start.year}"
        return f"{named}, days {self.start.day}–{self.end.day}" if self.kind == "dispatch" else named

    def next(self) -> Period:
        return containing(self.kind, self.stop)

    def previous(self) -> Period:
        return containing(self.kind, self.start - dt.timedelta(days=1))


def containing(kind: str, day: dt.date) -> Period:
    """The week, 旬 or month ``day`` falls in."""
    if kind == "dispatch":
        return xun(day.year, day.month, min(3, (day.day - 1) // 10 + 1))
    if kind == "monthly":
        return month(day.year, day.month)
    year, week_number, _ = day.isocalendar()
    return iso_week(year, week_number)


def xun(year: int, month_number: int, n: int) -> Period:
    start = dt.date(year, month_number, 1 + 10 * (n - 1))
    stop = month(year, month_number).stop if n == 3 else start + dt.timedelta(days=10)
    return Period("dispatch", f"{year}年{month_number}月{XUN[n - 1]}", start, stop)


def month(year: int, month_number: int) -> Period:
    start = dt.date(year, month_number, 1)
    stop = start + dt.timedelta(days=calendar.monthrange(year, month_number)[1])
    return Period("monthly", f"{year}年{month_number}月", start, stop)


def iso_week(year: int, week_number: int) -> Period:
    start = dt.date.fromisocalendar(year, week_number, 1)
    return Period("week", f"{year}年第{week_number}周", start, start + dt.timedelta(days=7))


def pattern(kind: str) -> str:
    """A period's format as a regular expression, for the API's documentation; ``parse`` also checks the ranges."""
    return f"^{_FORMATS[kind][0]}$"


def parse(kind: str, text: str) -> Period:
    """``2026-11-2`` (dispatch), ``2026-11`` (monthly), ``2026-W48`` (week); else InvalidPeriod."""
    pattern, how = _FORMATS[kind]
    found = re.fullmatch(pattern, text.strip())
    if found is None or not MIN_YEAR <= int(found.group(1)) <= MAX_YEAR:
        raise InvalidPeriod(how)
    year, number = int(found.group(1)), int(found.group(2))
    try:
        if kind == "week":
            return iso_week(year, number)
        if not 1 <= number <= 12:
            raise ValueError
        return xun(year, number, int(found.group(3))) if kind == "dispatch" else month(year, number)
    except ValueError:
        raise InvalidPeriod(how) from None


@dataclass(frozen=True)
class Unit:
    code: str
    name: str


def scope(session: Session, code: str | None) -> Unit | None:
    """The unit a report is narrowed to (by its code), or None for every unit; an unknown code names the field."""
    if not code:
        return None
    department = department_by_code(session, code)
    if department is None:
        message = f"没有此单位 No such unit: {code}"
        raise InvalidInput(message, errors=[{"field": "unit", "message": message}])
    return Unit(department.code, department.name)


def _within(unit: Unit | None) -> ColumnElement[bool]:
    return true() if unit is None else Department.code == unit.code


@dataclass(frozen=True)
class Figures:
    department: Unit | None = None  # None: the total
    days_to_close: float = 0.0  # summed over the closed items
    open_at_start: int = 0
    raised: int = 0
    closed: int = 0
    overdue: int = 0
    due_next: int = 0
    no_progress: int = 0

    @property
    def closure_rate(self) -> float | None:
        base = self.open_at_start + self.raised
        return round(self.closed / base, 4) if base else None

    @property
    def avg_days_to_close(self) -> float | None:
        return round(self.days_to_close / self.closed, 1) if self.closed else None

    def __add__(self, other: Figures) -> Figures:
        summed = {
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "department"
        }
        return Figures(**summed)


@dataclass(frozen=True)
class Report:
    period: Period
    next: Period
    units: list[Figures]
    total: Figures
    unit: Unit | None = None  # the one unit it was narrowed to
    adopted: tuple[Measure, ...] = ()  # 月总结: the measures adopted in the month


def _days_open(dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return func.julianday(Item.closed_at) - func.julianday(Item.created_at)
    return func.extract("epoch", Item.closed_at - Item.created_at) / 86400.0


def figures(session: Session, user: User, period: Period, timezone: str, unit: Unit | None = None) -> Report:
    """The dispatch or monthly figures of ``period`` over what ``user`` may see (of ``unit`` only, if given)."""
    start, stop, following = day_start(period.start, timezone), day_start(period.stop, timezone), period.next()
    open_at_end = and_(Item.created_at < stop, or_(Item.closed_at.is_(None), Item.closed_at >= stop))
    dated_at_end = and_(open_at_end, Item.ongoing.is_(False), Item.deadline.is_not(None))
    updated = exists().where(ProgressUpdate.item_id == Item.id, ProgressUpdate.at >= start, ProgressUpdate.at < stop)
    closed = Item.closed_at < stop
    # Every row is open during the period (the WHERE below), hence the short conditions.
    conditions = [
        Item.created_at < start,  # open at start
        Item.created_at >= start,  # raised
        closed,
        and_(dated_at_end, Item.deadline < period.stop),  # overdue
        and_(dated_at_end, Item.deadline >= following.start, Item.deadline < following.stop),  # due next
        and_(~updated, or_(Item.closed_at.is_(None), ~closed)),  # no progress
    ]
    query = (
        select(Department.code, Department.name, *(func.sum(case((c, 1), else_=0)) for c in conditions))
        .add_columns(func.sum(case((closed, _days_open(session.get_bind().dialect.name)))))
        .join(Department, Department.id == Item.department_id)
        .where(Item.created_at < stop, or_(Item.closed_at.is_(None), Item.closed_at >= start))
        .where(visible_clause(user), _within(unit), counted_clause())
        .group_by(Department.id, Department.code, Department.name)
        .order_by(Department.code)
    )
    units = [
        Figures(Unit(code, name), float(days or 0), *(int(n) for n in counts))
        for code, name, *counts, days in session.execute(query)
    ]
    monthly = period.kind == "monthly"
    measures = adopted(session, (period.start, period.stop), unit.code if unit else None) if monthly else []
    return Report(period, following, units, sum(units, Figures()), unit, tuple(measures))


@dataclass(frozen=True)
class Plan:
    item_id: int
    title: str
    plan: str
    at: dt.datetime
    actor: str
    actor_name: str


@dataclass(frozen=True)
class UnitPlans:
    department: Unit
    plans: list[Plan]


@dataclass(frozen=True)
class WeekPlan:
    period: Period
    next: Period
    units: list[UnitPlans]
    total: int
    unit: Unit | None = None  # the one unit it was narrowed to


def week_plan(session: Session, user: User, period: Period, timezone: str, unit: Unit | None = None) -> WeekPlan:
    """Each unit's plans for the week after ``period``: the latest non-blank plan per item (of ``unit`` only)."""
    start, stop = day_start(period.start, timezone), day_start(period.stop, timezone)
    newest_first = (ProgressUpdate.at.desc(), ProgressUpdate.id.desc())
    ranked = (
        select(
            ProgressUpdate.id,
            func.row_number().over(partition_by=ProgressUpdate.item_id, order_by=newest_first).label("n"),
        )
        .where(ProgressUpdate.at >= start, ProgressUpdate.at < stop, func.trim(ProgressUpdate.plan) != "")
        .subquery()
    )
    query = (
        select(Department.code, Department.name, Item.id, Item.title, ProgressUpdate.plan, ProgressUpdate.at)
        .add_columns(User.username, User.display_name)
        .select_from(ranked)
        .join(ProgressUpdate, ProgressUpdate.id == ranked.c.id)
        .join(Item, Item.id == ProgressUpdate.item_id)
        .join(Department, Department.id == Item.department_id)
        .join(User, User.id == ProgressUpdate.actor_id)
        .where(ranked.c.n == 1, visible_clause(user), _within(unit), counted_clause())
        .order_by(Department.code, Item.id)
    )
    units: list[UnitPlans] = []
    for code, name, item_id, title, plan, at, username, display_name in session.execute(query):
        if not units or units[-1].department.code != code:
            units.append(UnitPlans(Unit(code, name), []))
        units[-1].plans.append(Plan(item_id, title, plan, at, username, display_name))
    return WeekPlan(period, period.next(), units, sum(len(plans.plans) for plans in units), unit)


def report(session: Session, user: User, period: Period, timezone: str, unit: Unit | None = None) -> Report | WeekPlan:
    """The report of ``period``'s kind: the week plan, or the dispatch or monthly figures."""
    if period.kind == "week":
        return week_plan(session, user, period, timezone, unit)
    return figures(session, user, period, timezone, unit)
