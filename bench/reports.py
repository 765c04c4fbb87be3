"""Report benchmark: the rhythm reports over 100,000 items (not a test).

    python bench/reports.py                        # SQLite in a temporary folder
    python bench/reports.py --items 200000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Creates the items directly with bulk SQL inserts: 20 units, two years of history, items closed
in 0–120 days (4 % never), 5 % 长期坚持, 10 % joint tasks with a co-unit, two progress updates an
item on average. Prints the time of each report (median of ``--repeat`` runs) for a global reader
and for one unit's manager, the time of its .xlsx, and the total figures. Target: under a second
on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bpmn import deploy
from engine.identity import identity
from engine.intake import figures as intake
from engine.measures import figures as lasting
from engine.reports import report_xlsx, reports
from engine.store import migrate
from engine.store.config import REPO_ROOT
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import Department, Item, ItemUnit, ProgressUpdate, User

TZ = "Asia/Shanghai"
UNITS = 20
SPAN_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SPAN_DAYS = 700  # to 2026-12-01, "now": later closures have not happened yet
BATCH = 10_000


def batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def item_rows(count: int, definition_id: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        created = SPAN_START + dt.timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        ongoing = rng.random() < 0.05
        closed: dt.datetime | None = created + dt.timedelta(seconds=rng.randrange(120 * 86400))
        if rng.random() < 0.04 or closed > SPAN_START + dt.timedelta(days=SPAN_DAYS):
            closed = None  # some are never closed
        yield {
            "id": n,
            "title": f"事项 {n}",
            "description": "",
            "department_id": rng.randrange(1, UNITS + 1),
            "deadline": None if ongoing else (created + dt.timedelta(days=rng.randrange(1, 90))).date(),
            "ongoing": ongoing,
            "status": "closed" if closed else "owner",
            "status_label": "已销号" if closed else "责任人整改中",
            "definition_id": definition_id,
            "created_at": created,
            "updated_at": closed or created,
            "closed_at": closed,
            "version": 1,
        }


def seed(engine: Engine, count: int) -> None:
    rng = random.Random(20261125)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        (definition, _), *_ = deploy.deploy_bundled(session, REPO_ROOT / "processes")
        for n in range(1, UNITS + 1):
            identity.add_department(session, f"unit{n:02d}", f"第{n}单位")
        identity.add_user(session, "auditor", None, ["auditor"])
        identity.add_user(session, "manager", "unit01", ["manager"])
        definition_id = definition.id
    with transaction(sessions) as session:
        manager_id = session.scalars(select(User.id).where(User.username == "manager")).one()
        for batch in batches(item_rows(count, definition_id, rng)):
            session.execute(insert(Item), batch)
            units = [
                {"item_id": r["id"], "department_id": r["department_id"], "role": "lead", "position": 0} for r in batch
            ]
            co = [
                {"item_id": r["id"], "department_id": r["department_id"] % UNITS + 1, "role": "co", "position": 1}
                for r in batch
                if rng.random() < 0.1
            ]
            session.execute(insert(ItemUnit), units + co)
            updates = []
            for r in batch:
                last = r["closed_at"] or SPAN_START + dt.timedelta(days=SPAN_DAYS)
                for _ in range(rng.randrange(5)):
                    at = r["created_at"] + (last - r["created_at"]) * rng.random()
                    plan = f"下周计划 {r['id']}" if rng.random() < 0.5 else None
                    updates.append({"item_id": r["id"], "at": at, "actor_id": manager_id, "note": "进展", "plan": plan})
            if updates:
                session.execute(insert(ProgressUpdate), updates)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in ms over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def run(engine: Engine, repeat: int) -> None:
    sessions = make_session_factory(engine)
    cases = [("dispatch", "2026-11-2"), ("monthly", "2026-11"), ("week", "2026-W47")]
    print(f"{'report':<22}{'reader':<10}{'ms':>9}{'xlsx ms':>10}  figures")
    for kind, text in cases:
        period = reports.parse(kind, text)
        for username in ("auditor", "manager"):
            with transaction(sessions) as session:
                user = identity.user_by_username(session, username)
                if kind == "week":
                    ms, week = timed(lambda s=session, u=user, p=period: reports.week_plan(s, u, p, TZ), repeat)
                    xlsx_ms, _ = timed(lambda w=week: report_xlsx.week_workbook(w, TZ), repeat)
                    summary = f"{len(week.units)} units, {week.total} plans"
                else:
                    ms, report = timed(lambda s=session, u=user, p=period: reports.figures(s, u, p, TZ), repeat)
                    days = (period.start, period.stop)
                    companions = report_xlsx.Companions(
                        intake.report(session, period, TZ), lasting.report(session, user, days, TZ, 12)
                    )
                    xlsx_ms, _ = timed(lambda r=report, c=companions: report_xlsx.figures_workbook(r, c), repeat)
                    t = report.total
                    summary = (
                        f"{len(report.units)} units; open {t.open_at_start} raised {t.raised} closed {t.closed} "
                        f"overdue {t.overdue} due next {t.due_next} no progress {t.no_progress} "
                        f"rate {t.closure_rate} avg {t.avg_days_to_close}"
                    )
            print(f"{kind + ' ' + text:<22}{username:<10}{ms:>9.1f}{xlsx_ms:>10.1f}  {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each report (the median is printed)")
    parser.add_argument("--postgres", help="a PostgreSQL server URL: benchmark a scratch database there too")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        targets = [("SQLite", f"sqlite:///{folder}/bench.sqlite3")]
        if args.postgres:
            targets.append(("PostgreSQL", stack.enter_context(scratch_database(args.postgres, "rectiflow_bench"))))
        for name, url in targets:
            engine = make_engine(url)
            migrate.upgrade(engine)
            start = time.perf_counter()
            seed(engine, args.items)
            with engine.connect() as conn:
                updates = conn.scalar(select(ProgressUpdate.id).order_by(ProgressUpdate.id.desc()).limit(1))
                units = conn.scalar(select(Department.id).order_by(Department.id.desc()).limit(1))
            print(f"\n{name}: {args.items:,} items, {units} units, {updates:,} progress updates")
            print(f"seeded in {time.perf_counter() - start:.1f} s")
            run(engine, args.repeat)
            engine.dispose()


if __name__ == "__main__":
    main()
