"""Intake figures per 问题来源 for a 旬 or month (the periods of ``engine.reports.reports``).

Over the submissions raised in the period (``raised_at`` in ``[start, stop)`` in the office time zone),
per source and in total: raised; became items (accepted or merged, by now); median days from raising
to triage over those triaged by now (1 decimal; null when none is). Narrowed to one unit concerned
when the report is. Sources are listed in the office's order, then any no longer on its list.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.intake.submissions import BECAME_ITEMS
from engine.items import sources
from engine.reports.reports import Period, Unit
from engine.store.clock import day_start
from engine.store.models import Department, Submission

DAY = 86400


@dataclass(frozen=True)
class SourceFigures:
    source: str
    raised: int
    became_items: int
    median_days_to_triage: float | None


@dataclass(frozen=True)
class IntakeReport:
    period: Period
    unit: Unit | None
    sources: list[SourceFigures]
    total: SourceFigures


def _figures(source: str, rows: list[Submission]) -> SourceFigures:
    waits = [(row.triaged_at - row.raised_at).total_seconds() / DAY for row in rows if row.triaged_at is not None]
    return SourceFigures(
        source=source,
        raised=len(rows),
        became_items=sum(1 for row in rows if row.status in BECAME_ITEMS),
        median_days_to_triage=round(statistics.median(waits), 1) if waits else None,
    )


def report(session: Session, period: Period, timezone: str, unit: Unit | None = None) -> IntakeReport:
    query = select(Submission).where(
        Submission.raised_at >= day_start(period.start, timezone),
        Submission.raised_at < day_start(period.stop, timezone),
    )
    if unit is not None:
        query = query.join(Department).where(Department.code == unit.code)
    rows = list(session.scalars(query))
    order = [source.name for source in sources.listed(session)]
    named = order + sorted({row.source for row in rows} - set(order))
    listed = [_figures(name, [row for row in rows if row.source == name]) for name in named]
    return IntakeReport(period, unit, [f for f in listed if f.raised], _figures("", rows))
