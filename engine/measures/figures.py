"""长效机制 figures of a 旬 or month: items closed with and without a lasting measure, per unit and per
category, the recurring problems among the items raised, and the measures adopted.

Over the items the reader may see (``items.visible_clause``), withdrawn ones never counted, narrowed to
one unit when asked (as ``engine.reports.reports``):

- closed with (有长效机制) / without (无长效机制): items closed in the period, split by
  ``mechanism.lasting_clause`` (noted 已建立长效机制, or linked to a measure in force);
- recurring (曾整改过): items raised in the period that look like an item closed in the
  ``months`` before each was raised (``recurrence``);
- adopted: the measures whose adoption date falls in the period (owned by the unit, when narrowed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.measures import mechanism, recurrence, recurrence_scans
from engine.store.clock import day_start
from engine.store.models import Department, Item, Measure, User

NO_CATEGORY = ""  # items without a category are counted under this name


@dataclass(frozen=True)
class Row:
    name: str  # the unit's name, or the category
    code: str  # the unit's code, or the category
    closed_with: int = 0
    closed_without: int = 0
    recurring: int = 0


@dataclass(frozen=True)
class LastingReport:
    units: list[Row]
    categories: list[Row]
    total: Row
    adopted: list[Measure]
    method: str  # how titles were compared (``recurrence.method``)


def report(
    session: Session, user: User, days: tuple[dt.date, dt.date], timezone: str, months: int, unit: str | None = None
) -> LastingReport:
    """The figures of the office days ``[first, stop)`` (a period's), of the unit with code ``unit`` if given."""
    start, stop = (day_start(day, timezone) for day in days)
    scope = [visible_clause(user), counted_clause()]
    if unit is not None:
        scope.append(Department.code == unit)
    lasting = mechanism.lasting_clause()
    closed = (
        select(Department.code, Department.name, Item.category)
        .add_columns(func.sum(case((lasting, 1), else_=0)), func.count())
        .join(Department, Department.id == Item.department_id)
        .where(Item.closed_at >= start, Item.closed_at < stop, *scope)
        .group_by(Department.code, Department.name, Item.category)
    )
    units: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    categories: dict[str, list[int]] = {}
    for code, name, category, with_measure, count in session.execute(closed):
        names[code] = name
        for bucket, key in ((units, code), (categories, category or NO_CATEGORY)):
            figures = bucket.setdefault(key, [0, 0, 0])
            figures[0] += int(with_measure or 0)
            figures[1] += int(count) - int(with_measure or 0)
    raised = list(
        session.scalars(
            select(Item)
            .join(Department, Department.id == Item.department_id)
            .where(Item.created_at >= start, Item.created_at < stop, *scope)
        )
    )
    back = recurrence_scans.came_back(session, user, raised, months)
    for item in raised:
        if item.id in back:
            names[item.department.code] = item.department.name
            units.setdefault(item.department.code, [0, 0, 0])[2] += 1
            categories.setdefault(item.category or NO_CATEGORY, [0, 0, 0])[2] += 1
    unit_rows = [Row(names[code], code, *units[code]) for code in sorted(units)]
    category_rows = [Row(name, name, *categories[name]) for name in sorted(categories)]
    total = Row("", "", *(sum(row[i] for row in units.values()) for i in range(3)))
    return LastingReport(unit_rows, category_rows, total, adopted(session, days, unit), recurrence.method(session))


def adopted(session: Session, days: tuple[dt.date, dt.date], unit: str | None = None) -> list[Measure]:
    """The measures adopted (施行) on the days ``[first, stop)``, by adoption date (a repealed one too)."""
    query = select(Measure).where(Measure.adopted_on >= days[0], Measure.adopted_on < days[1])
    if unit is not None:
        query = query.join(Department, Department.id == Measure.department_id).where(Department.code == unit)
    return list(session.scalars(query.order_by(Measure.adopted_on, Measure.id)))
