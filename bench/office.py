"""A 100,000-item office on PostgreSQL: generate it, then time what people do there over HTTP (not a test).

    python bench/office.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/office.py --postgres URL --items 100000 --events 10 --inbox 5000 --repeat 30

Generates, with bulk inserts: the report benchmark's items (``bench/reports.py``: 20 units, two years,
co-units, progress updates), each with a real instance's stored state and a hash-chained history of
``--events`` events (1,000,000 for 100,000 items), and ``--inbox`` ready tasks for one manager of
unit01 (the other open items wait for their owner). Then starts ``rectiflow serve`` on it and prints
p50/p95 over ``--repeat`` requests of: ledger pages (filters, sorts, search, the last page), the
manager's inbox, item pages, the dashboard (after comparing every item with the earlier closed ones, as the
worker does in the background: how long that took is printed too); the time and the server's peak memory of the whole
ledger's export; the time of a 10,000-row ledger import. Targets (issue 14): ledger, inbox and item
p95 < 50 ms, dashboard < 300 ms, export < 60 s under 200 MB, import < 60 s.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from openpyxl import Workbook
from sqlalchemy import Engine, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backup import histories
from bench.lifecycle import percentile, server
from bench.reports import seed
from engine.identity import identity
from engine.measures import recurrence_scans
from engine.store import migrate
from engine.store.config import Settings
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import Department, Item, Task, User

PASSWORD = "a password long enough"


def generate(engine: Engine, count: int, events: int, inbox: int) -> None:
    seed(engine, count)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        # The seeded items carry their ids: the sequence must go on after them.
        session.execute(text("SELECT setval(pg_get_serial_sequence('item', 'id'), (SELECT max(id) FROM item))"))
        identity.add_user(session, "boss", "unit01", ["manager", "reporter", "approver"], None, PASSWORD)
        identity.add_user(session, "owner", "unit01", ["member"])
        unit01 = session.scalars(select(Department.id).where(Department.code == "unit01")).one()
        owner = session.scalars(select(User.id).where(User.username == "owner")).one()
        # The manager's inbox: the first ``inbox`` items of unit01, reopened at their measures step.
        waiting = list(session.scalars(select(Item.id).where(Item.department_id == unit01).order_by(Item.id)))[:inbox]
        session.execute(
            update(Item)
            .where(Item.id.in_(waiting))
            .values(status="measures", status_label="制定整改措施", closed_at=None)
        )
        open_items = session.scalars(select(Item.id).where(Item.closed_at.is_(None))).all()
        managers = {"name": "define_measures", "title": "制定整改措施", "lane": "responsible_unit"}
        managers |= {"candidate_role": ",manager,", "candidate_department_id": unit01}
        owners = {"name": "rectify", "title": "整改落实", "lane": "owner", "assignee_id": owner}
        chosen = set(waiting)
        rows = [
            {"item_id": item_id, "spiff_id": str(uuid.uuid4()), "state": "ready"}
            | (managers if item_id in chosen else owners)
            for item_id in open_items
        ]
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Task), rows[start : start + 10_000])
    histories(engine, events)


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def timed(http: requests.Session, url: str, repeat: int, **kw: Any) -> tuple[float, float]:
    """p50 and p95 in ms of ``repeat`` GETs (after one untimed)."""
    assert http.get(url, timeout=300, **kw).status_code == 200, url
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = http.get(url, timeout=300, **kw)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return statistics.median(times), percentile(times, 0.95)


def import_workbook(rows: int) -> bytes:
    """A ledger workbook of ``rows`` new items (one row fewer than the header's limit of rows read)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(["序号", "问题描述", "问题来源", "责任单位", "整改时限", "整改措施"])
    for n in range(1, rows):
        sheet.append([n, f"导入事项 {n}", "自查", "第1单位", "2027-06-30", "整改"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def measure(base: str, pid: int, args: argparse.Namespace) -> None:
    api = base + "/api/v1"
    http = requests.Session()
    token = http.post(f"{api}/auth/token", json={"username": "boss", "password": PASSWORD}, timeout=30).json()
    http.headers["Authorization"] = f"Bearer {token['token']}"
    last = -(-args.items // 20)
    print(f"{'request':<44} {'p50 ms':>8} {'p95 ms':>8}  target")
    ledger = {
        "ledger, first page": "",
        "ledger, status filter": "status=owner",
        "ledger, one unit": "department=unit07",
        "ledger, overdue": "overdue=true",
        "ledger, sorted by deadline": "sort=deadline",
        "ledger, search": "q=事项 4242",
        "ledger, closed with a lasting measure": "lasting=true",
        f"ledger, last page ({last:,})": f"page={last}",
    }
    for label, query in ledger.items():
        p50, p95 = timed(http, f"{api}/items?per_page=20&{query}", args.repeat)
        print(f"{label:<44} {p50:>8.1f} {p95:>8.1f}  p95 < 50")
    p50, p95 = timed(http, f"{api}/tasks", args.repeat)
    print(f"{'inbox of a manager with ' + format(args.inbox, ',') + ' tasks':<44} {p50:>8.1f} {p95:>8.1f}  p95 < 50")
    ids = random.Random(1).sample(range(1, args.items + 1), args.repeat)
    times = []
    for item_id in ids:
        started = time.perf_counter()
        assert http.get(f"{api}/items/{item_id}", timeout=60).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    print(f"{'item (API)':<44} {statistics.median(times):>8.1f} {percentile(times, 0.95):>8.1f}  p95 < 50")

    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30).text
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert form_token
    login = {"username": "boss", "password": PASSWORD, "csrf_token": form_token.group(1)}
    assert browser.post(f"{base}/login", data=login, allow_redirects=False, timeout=30).status_code == 302
    p50, p95 = timed(browser, f"{base}/items/{ids[0]}", args.repeat)
    print(f"{'item page':<44} {p50:>8.1f} {p95:>8.1f}  p95 < 50")
    p50, p95 = timed(browser, f"{base}/dashboard", max(5, args.repeat // 3))
    print(f"{'dashboard':<44} {p50:>8.1f} {p95:>8.1f}  < 300")

    before = peak_mb(pid)
    started = time.perf_counter()
    with http.get(f"{api}/items/export.xlsx", timeout=600, stream=True) as response:
        assert response.status_code == 200
        size = sum(len(chunk) for chunk in response.iter_content(1 << 16))
    seconds = time.perf_counter() - started
    print(
        f"export of all {args.items:,} items: {seconds:.1f} s, {size / 1e6:.1f} MB; server peak memory "
        f"{peak_mb(pid):.0f} MB (before: {before:.0f} MB)  target < 60 s, < 200 MB"
    )
    if not args.import_rows:
        return
    book = import_workbook(args.import_rows)
    started = time.perf_counter()
    done = http.post(f"{api}/items/import", files={"file": ("台账.xlsx", book)}, timeout=600)
    assert done.status_code == 201, done.text[:500]
    print(f"import of {args.import_rows:,} new rows: {time.perf_counter() - started:.1f} s  target < 60 s")


def prepared(url: str, args: argparse.Namespace) -> None:
    """Generate the office into the database at ``url`` unless it holds one already."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Item)):
            engine.dispose()
            return
    started = time.perf_counter()
    generate(engine, args.items, args.events, args.inbox)
    # What autovacuum would do in a while: the planner's statistics, the visibility map.
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    seconds = time.perf_counter() - started
    print(f"generated {args.items:,} items, {args.items * args.events:,} events in {seconds:.0f} s")


def compared(url: str) -> None:
    """What the worker does in the background after an upgrade: every item compared with those closed before it
    (曾整改过, ``engine.measures.recurrence_scans``), so that pages read the earlier items instead of looking."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    months = Settings.from_env().recurrence_months  # as the server it starts reads it
    started, more = time.perf_counter(), True
    while more:
        with transaction(sessions) as session:
            more = recurrence_scans.run_batch(session, months)
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE recurrence_scan, recurrence_match")
    engine.dispose()
    print(f"items compared with the earlier closed ones (the worker's backfill): {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--postgres", help="a PostgreSQL server URL: the office goes in a scratch database, dropped")
    where.add_argument("--database", help="a PostgreSQL database URL, kept: generated into unless it holds items")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10, help="history events per item")
    parser.add_argument("--inbox", type=int, default=5_000, help="ready tasks of one manager")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--import-rows", type=int, default=10_000, help="0: no import (a kept office stays as it is)")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.database or stack.enter_context(scratch_database(args.postgres, "rectiflow_office"))
        prepared(url, args)
        compared(url)
        base, pid = stack.enter_context(server(url, "--no-worker", RECTIFLOW_COOKIE_SECURE="false"))
        measure(base, pid, args)


if __name__ == "__main__":
    main()
