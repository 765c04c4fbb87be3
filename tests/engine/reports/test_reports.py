"""Rhythm reports (旬调度, 月总结, 周计划) over a ledger built at controlled times, figures worked out by hand.

The ledger (Beijing time; 办公室 ``office`` and 工务科 ``works``):

== ====== ============ ======== ============ ==================================================
id unit   raised       deadline closed       progress updates (plan)
== ====== ============ ======== ============ ==================================================
A  office 10-30 10:00  11-15    11-20 23:30  11-17 (A旧计划), 11-19 (A新计划)
B  office 11-10 09:00  11-25    11-21 00:30  11-15 (B计划)
C  office 11-11 09:00  11-25    --           11-21 00:10 (C计划), 11-22 (no plan)
D  office 10-15 09:00  ongoing  --           11-05 (no plan)
I  office 11-12 09:00  11-20    --           --
L  office 10-10 09:00  10-31    --           --
E  works  11-11 00:30  11-18    --           11-20 23:50 (E计划), 11-23 00:10 (E下周计划)
F  works  10-20 10:00  12-05    11-01 00:30  --
G  works  11-25 10:00  12-10    --           11-26 (G计划)
J  works  11-13 10:00  11-30    11-16 22:00  --
K  works  09-25 10:00  09-30    10-31 23:30  10-01 00:30 (K计划)
== ====== ============ ======== ============ ==================================================

Days to close: A 21.5625, B 10.6458, F 11.6042, J 3.5, K 36.5625. E, raised at 00:30 on 11-11 in
Beijing (16:30 UTC on 11-10), belongs to 中旬; F, closed at 00:30 on 11-01 in Beijing (still
October in UTC), is a November closure; K's update at 00:30 on 10-01 counts for October.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import corrections, items, progress, workflow
from engine.reports import dashboard, reports
from engine.store.db import transaction
from engine.store.errors import InvalidInput
from engine.store.models import Item
from tests.conftest import People

TZ = "Asia/Shanghai"
BJ = ZoneInfo(TZ)
YEAR = 2026
# Per unit: (open at start, raised, closed, overdue, due next, no progress, closure rate, average days).
DISPATCH_2026_11_2 = {
    "office": (4, 2, 1, 2, 2, 4, 0.1667, 21.6),
    "works": (0, 2, 1, 1, 0, 0, 0.5, 3.5),
    "total": (4, 4, 2, 3, 2, 4, 0.25, 12.5),
}
MONTHLY_2026_10 = {
    "office": (0, 3, 0, 1, 1, 3, 0.0, None),
    "works": (1, 1, 1, 0, 0, 1, 0.5, 36.6),
    "total": (1, 4, 1, 1, 1, 4, 0.2, 36.6),
}
MONTHLY_2026_11 = {
    "office": (3, 3, 2, 3, 0, 2, 0.3333, 16.1),
    "works": (1, 3, 2, 1, 1, 0, 0.5, 7.6),
    "total": (4, 6, 4, 4, 1, 2, 0.4, 11.8),
}
# Per unit: (item title, plan, reported at in Beijing).
WEEK_2026_W47 = {
    "office": [("A", "A新计划", "2026-11-19 09:00"), ("C", "C计划", "2026-11-21 00:10")],
    "works": [("E", "E计划", "2026-11-20 23:50")],
}
WEEK_2026_W48 = {"works": [("E", "E下周计划", "2026-11-23 00:10"), ("G", "G计划", "2026-11-26 10:00")]}
# Each unit's manager and the member who becomes the owner.
STAFF = {"office": ("manager", "owner"), "works": ("works_manager", "outsider")}


@dataclass(frozen=True)
class Spec:
    title: str
    unit: str
    raised: str
    deadline: str | None
    closed: str | None = None
    updates: tuple[tuple[str, str | None], ...] = ()


LEDGER = [
    Spec(
        "A", "office", "10-30 10:00", "11-15", "11-20 23:30", (("11-17 09:00", "A旧计划"), ("11-19 09:00", "A新计划"))
    ),
    Spec("B", "office", "11-10 09:00", "11-25", "11-21 00:30", (("11-15 09:00", "B计划"),)),
    Spec("C", "office", "11-11 09:00", "11-25", None, (("11-21 00:10", "C计划"), ("11-22 10:00", None))),
    Spec("D", "office", "10-15 09:00", None, None, (("11-05 09:00", None),)),
    Spec("I", "office", "11-12 09:00", "11-20"),
    Spec("L", "office", "10-10 09:00", "10-31"),
    Spec("E", "works", "11-11 00:30", "11-18", None, (("11-20 23:50", "E计划"), ("11-23 00:10", "E下周计划"))),
    Spec("F", "works", "10-20 10:00", "12-05", "11-01 00:30"),
    Spec("G", "works", "11-25 10:00", "12-10", None, (("11-26 10:00", "G计划"),)),
    Spec("J", "works", "11-13 10:00", "11-30", "11-16 22:00"),
    Spec("K", "works", "09-25 10:00", "09-30", "10-31 23:30", (("10-01 00:30", "K计划"),)),
]


def beijing(text: str) -> dt.datetime:
    """``"11-20 23:30"`` (this year) or ``"2026-11-20 23:30"``, Beijing wall-clock time."""
    full = text if len(text) > 11 else f"{YEAR}-{text}"
    return dt.datetime.fromisoformat(full).replace(tzinfo=BJ)


def _complete(sessions: sessionmaker[Session], item_id: int, username: str, data: dict[str, Any]) -> None:
    with transaction(sessions) as session:
        actor = identity.user_by_username(session, username)
        (task,) = items.live_tasks(session, session.get_one(Item, item_id))
        workflow.complete_task(session, actor, task.id, data)


def build_ledger(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The ledger above, through the engine's own workflow; returns each title's item id."""
    ids = {}
    for spec in LEDGER:
        with time_machine.travel(beijing(spec.raised), tick=False), transaction(sessions) as session:
            new = workflow.NewItem(
                title=spec.title,
                department=spec.unit,
                deadline=dt.date.fromisoformat(f"{YEAR}-{spec.deadline}") if spec.deadline else None,
                ongoing=spec.deadline is None,
            )
            ids[spec.title] = workflow.create_item(session, identity.user_by_username(session, "reporter"), new, TZ).id
        for when, plan in spec.updates:
            with time_machine.travel(beijing(when), tick=False), transaction(sessions) as session:
                actor = identity.user_by_username(session, STAFF[spec.unit][0])
                item = session.get_one(Item, ids[spec.title])
                progress.report(session, actor.id, item, progress.NewProgress(note=f"{spec.title} 进展", plan=plan))
        if spec.closed:
            manager, owner = STAFF[spec.unit]
            steps = [(manager, {"measures": "m"}), (manager, {"owner": owner}), (owner, {"result": "r"})]
            with time_machine.travel(beijing(spec.closed), tick=False):
                for username, data in [*steps, ("approver", {"decision": "approve"})]:
                    _complete(sessions, ids[spec.title], username, data)
    return ids


def figures(report: reports.Report) -> dict[str, tuple[Any, ...]]:
    def row(f: reports.Figures) -> tuple[Any, ...]:
        counts = (f.open_at_start, f.raised, f.closed, f.overdue, f.due_next, f.no_progress)
        return (*counts, f.closure_rate, f.avg_days_to_close)

    found = {f.department.code: row(f) for f in report.units if f.department is not None}
    return {**found, "total": row(report.total)}


def plans(report: reports.WeekPlan) -> dict[str, list[tuple[str, str, str]]]:
    return {
        unit.department.code: [(p.title, p.plan, p.at.astimezone(BJ).strftime("%Y-%m-%d %H:%M")) for p in unit.plans]
        for unit in report.units
    }


@pytest.fixture
def ledger(sessions: sessionmaker[Session], people: People) -> sessionmaker[Session]:
    build_ledger(sessions)
    return sessions


def run(sessions: sessionmaker[Session], username: str, kind: str, text: str) -> Any:
    with transaction(sessions) as session:
        user = identity.user_by_username(session, username)
        period = reports.parse(kind, text)
        if kind == "week":
            return reports.week_plan(session, user, period, TZ)
        return reports.figures(session, user, period, TZ)


def test_dispatch_and_monthly_figures_match_the_hand_count(ledger: sessionmaker[Session]) -> None:
    dispatch = run(ledger, "auditor", "dispatch", "2026-11-2")
    assert (dispatch.period.label, f"{dispatch.period.start}/{dispatch.period.end}") == (
        "2026年11月中旬",
        "2026-11-11/2026-11-20",
    )
    assert [u.department.name for u in dispatch.units] == ["办公室", "工务科"]
    assert figures(dispatch) == DISPATCH_2026_11_2
    assert figures(run(ledger, "auditor", "monthly", "2026-10")) == MONTHLY_2026_10
    assert figures(run(ledger, "auditor", "monthly", "2026-11")) == MONTHLY_2026_11


def test_an_item_closed_in_the_period_has_progress(ledger: sessionmaker[Session]) -> None:
    """J (closed 11-16, no update) and F (closed 11-01) made progress: they were closed. I and L made none."""
    dispatch = run(ledger, "auditor", "dispatch", "2026-11-2")
    assert {f.department.code: f.no_progress for f in dispatch.units if f.department} == {"office": 4, "works": 0}
    november = run(ledger, "auditor", "monthly", "2026-11")
    assert {f.department.code: f.no_progress for f in november.units if f.department} == {"office": 2, "works": 0}


def test_week_plan_lists_each_items_latest_plan_of_the_week(ledger: sessionmaker[Session]) -> None:
    week = run(ledger, "auditor", "week", "2026-W47")
    assert (week.period.label, f"{week.period.start}/{week.period.end}") == ("2026年第47周", "2026-11-16/2026-11-22")
    assert (f"{week.next.start}/{week.next.end}", week.total) == ("2026-11-23/2026-11-29", 3)
    assert plans(week) == WEEK_2026_W47
    assert plans(run(ledger, "auditor", "week", "2026-W48")) == WEEK_2026_W48
    assert plans(run(ledger, "auditor", "week", "2026-W49")) == {}


def test_a_unit_manager_counts_only_what_he_may_see(ledger: sessionmaker[Session]) -> None:
    works = {"works": DISPATCH_2026_11_2["works"], "total": DISPATCH_2026_11_2["works"]}
    assert figures(run(ledger, "works_manager", "dispatch", "2026-11-2")) == works
    office = {"office": MONTHLY_2026_11["office"], "total": MONTHLY_2026_11["office"]}
    assert figures(run(ledger, "manager", "monthly", "2026-11")) == office
    assert plans(run(ledger, "manager", "week", "2026-W48")) == {}


def test_a_joint_task_counts_for_its_lead_unit_and_is_seen_by_its_co_units(
    sessions: sessionmaker[Session], people: People
) -> None:
    with time_machine.travel(beijing("11-12 09:00"), tick=False), transaction(sessions) as session:
        new = workflow.NewItem(
            title="联动", department="office", co_departments=("works",), deadline=dt.date(2026, 11, 19)
        )
        workflow.create_item(session, identity.user_by_username(session, "reporter"), new, TZ)
    joint = {"office": (0, 1, 0, 1, 0, 1, 0.0, None), "total": (0, 1, 0, 1, 0, 1, 0.0, None)}
    assert figures(run(sessions, "works_manager", "dispatch", "2026-11-2")) == joint
    # A period with nothing open: no unit, zero totals, no rate.
    assert figures(run(sessions, "works_manager", "dispatch", "2026-11-1")) == {"total": (0, 0, 0, 0, 0, 0, None, None)}


# kind text: label first-day last-day | the next period's label first-day last-day
PERIODS = """
dispatch 2026-11-1: 2026年11月上旬 2026-11-01 2026-11-10 | 2026年11月中旬 2026-11-11 2026-11-20
dispatch 2026-11-3: 2026年11月下旬 2026-11-21 2026-11-30 | 2026年12月上旬 2026-12-01 2026-12-10
dispatch 2026-02-3: 2026年2月下旬 2026-02-21 2026-02-28 | 2026年3月上旬 2026-03-01 2026-03-10
dispatch 2028-02-3: 2028年2月下旬 2028-02-21 2028-02-29 | 2028年3月上旬 2028-03-01 2028-03-10
dispatch 2026-12-3: 2026年12月下旬 2026-12-21 2026-12-31 | 2027年1月上旬 2027-01-01 2027-01-10
monthly 2026-12: 2026年12月 2026-12-01 2026-12-31 | 2027年1月 2027-01-01 2027-01-31
monthly 2026-02: 2026年2月 2026-02-01 2026-02-28 | 2026年3月 2026-03-01 2026-03-31
week 2026-W48: 2026年第48周 2026-11-23 2026-11-29 | 2026年第49周 2026-11-30 2026-12-06
week 2026-W53: 2026年第53周 2026-12-28 2027-01-03 | 2027年第1周 2027-01-04 2027-01-10
week 2027-W01: 2027年第1周 2027-01-04 2027-01-10 | 2027年第2周 2027-01-11 2027-01-17
"""
BAD_PERIODS = {
    "dispatch": ["2026-11-4", "2026-11-0", "2026-13-1", "2026-11", "2026-1-1"],
    "monthly": ["2026-13", "2026-00", "2026-11-2", "２０２６-11", "0999-01", ""],
    "week": ["2026-W00", "2025-W53", "2026-W54", "2026-48"],
}


@pytest.mark.parametrize("line", PERIODS.strip().splitlines())
def test_periods(line: str) -> None:
    query, _, expected = line.partition(": ")
    kind, text = query.split()
    period = reports.parse(kind, text)
    after = period.next()
    shown = [period.label, period.start.isoformat(), period.end.isoformat(), "|"]
    assert [*shown, after.label, after.start.isoformat(), after.end.isoformat()] == expected.split()
    assert (period.kind, after.kind, period.stop) == (kind, kind, after.start)


@pytest.mark.parametrize(("kind", "text"), [(kind, text) for kind, texts in BAD_PERIODS.items() for text in texts])
def test_bad_periods_are_refused(kind: str, text: str) -> None:
    with pytest.raises(reports.InvalidPeriod):
        reports.parse(kind, text)


def test_the_dashboard_stacks_overdue_as_a_part_of_open(ledger: sessionmaker[Session]) -> None:
    with transaction(ledger) as session:
        units = dashboard.unit_states(session, identity.user_by_username(session, "auditor"), dt.date(2026, 11, 23))
    # Open: office C, D (ongoing), I, L, of which I and L are past their deadline; works E (overdue) and G.
    assert [(u.name, u.open, u.overdue, u.closed) for u in units] == [("办公室", 4, 2, 2), ("工务科", 2, 1, 3)]
    # The chart's stack: open on time + open overdue = open; closed beside it, never counted twice.
    assert [(u.on_time, u.overdue, u.closed) for u in units] == [(2, 2, 2), (1, 1, 3)]
    assert all(u.on_time + u.overdue == u.open for u in units)


def test_a_withdrawn_item_is_neither_raised_nor_closed_in_any_figure(ledger: sessionmaker[Session]) -> None:
    """I (office, raised 11-12, overdue on 11-21) is withdrawn on 11-18: a withdrawal is no closure."""
    with time_machine.travel(beijing("11-18 10:00"), tick=False), transaction(ledger) as session:
        mistaken = session.scalars(select(Item.id).where(Item.title == "I")).one()
        corrections.withdraw(session, identity.user_by_username(session, "admin"), mistaken, "重复登记")
    dispatch = run(ledger, "auditor", "dispatch", "2026-11-2")
    # The hand count's office row without I: raised 2 -> 1, overdue 2 -> 1, no progress 4 -> 3, closed still 1.
    assert figures(dispatch)["office"] == (4, 1, 1, 1, 2, 3, 0.2, 21.6)
    assert dispatch.total.closed == DISPATCH_2026_11_2["total"][2]
    with transaction(ledger) as session:
        auditor = identity.user_by_username(session, "auditor")
        units = dashboard.unit_states(session, auditor, dt.date(2026, 11, 23))
        november = dashboard.trend(session, auditor, reports.month(2026, 11), TZ)[-1]
    assert [(u.name, u.open, u.closed) for u in units] == [("办公室", 3, 2), ("工务科", 2, 3)]
    assert (november.raised, november.closed) == (MONTHLY_2026_11["total"][1] - 1, MONTHLY_2026_11["total"][2])


def test_the_dashboard_trends_count_what_the_reports_count_in_every_period(ledger: sessionmaker[Session]) -> None:
    with transaction(ledger) as session:
        for username in ("auditor", "manager"):
            reader = identity.user_by_username(session, username)
            for current in (reports.month(2026, 12), reports.parse("dispatch", "2026-12-1")):
                points = dashboard.trend(session, reader, current, TZ)
                assert [p.period for p in points][-1] == current and len(points) == dashboard.TREND_LENGTH
                for point in points:
                    total = reports.figures(session, reader, point.period, TZ).total
                    assert (point.raised, point.closed) == (total.raised, total.closed), (username, point.period)
                assert any(point.raised for point in points) and any(point.closed for point in points)


def test_a_report_narrowed_to_one_unit_counts_only_its_items(ledger: sessionmaker[Session]) -> None:
    with transaction(ledger) as session:
        auditor = identity.user_by_username(session, "auditor")
        works = reports.scope(session, "works")
        dispatch = reports.figures(session, auditor, reports.parse("dispatch", "2026-11-2"), TZ, works)
        week = reports.week_plan(session, auditor, reports.parse("week", "2026-W47"), TZ, works)
        assert reports.scope(session, "") is None
        with pytest.raises(InvalidInput) as refused:
            reports.scope(session, "nowhere")
        assert [error["field"] for error in refused.value.errors] == ["unit"]
    assert (dispatch.unit, figures(dispatch)) == (
        works,
        {"works": DISPATCH_2026_11_2["works"], "total": DISPATCH_2026_11_2["works"]},
    )
    assert (week.unit, plans(week)) == (works, {"works": WEEK_2026_W47["works"]})


@pytest.mark.parametrize(
    ("kind", "day", "code", "previous", "english"),
    [
        ("dispatch", "2026-11-30", "2026-11-3", "2026-11-2", "November 2026, days 21–30"),
        ("dispatch", "2026-01-05", "2026-01-1", "2025-12-3", "January 2026, days 1–10"),
        ("monthly", "2026-01-31", "2026-01", "2025-12", "January 2026"),
        ("week", "2027-01-01", "2026-W53", "2026-W52", "week 53 of 2026"),
    ],
)
def test_the_period_a_day_falls_in(kind: str, day: str, code: str, previous: str, english: str) -> None:
    period = reports.containing(kind, dt.date.fromisoformat(day))
    assert (period.code, period.previous().code, period.label_en) == (code, previous, english)
    assert reports.parse(kind, period.code) == period and period.previous().next() == period
