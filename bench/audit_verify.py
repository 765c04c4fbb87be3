"""Audit verification benchmark: ``rectiflow audit verify`` over 1,000,000 history events (not a test).

    python bench/audit_verify.py                                   # SQLite in a temporary folder
    python bench/audit_verify.py --events 1000000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Writes items with a keyed, anchored, sealed history of ``--per-item`` events each (Core bulk
inserts), then runs ``rectiflow audit verify`` as the operator would, in its own process, and
prints the events, its seconds and its peak memory (the child's peak RSS). The goal: under 200 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.audit import audit
from engine.store import migrate
from engine.store.db import make_engine, scratch_database
from engine.store.models import AuditAnchor, Department, HistoryEvent, Item, ProcessDefinition

KEY = "bench-audit-key-0123456789abcdef0123456789abcdef"
START = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
ITEMS_PER_BATCH = 2000
STATUSES = ["identified", "measures", "owner", "review", "closed"]


def _history(item_id: int, per_item: int, key: bytes) -> tuple[list[dict[str, Any]], str, str]:
    """One item's events, its first hash and its head hash."""
    rows, prev, first = [], audit.GENESIS, ""
    for seq in range(1, per_item + 1):
        row = audit.Stored(
            item_id=item_id,
            seq=seq,
            at=START + dt.timedelta(minutes=item_id + seq),
            actor="manager",
            action="completed" if seq > 1 else "created",
            task=f"task{seq}" if seq > 1 else None,
            status_from=STATUSES[(seq - 2) % len(STATUSES)] if seq > 1 else None,
            status_to=STATUSES[(seq - 1) % len(STATUSES)],
            data={"note": f"第 {seq} 步 措施与结果 " * 4, "n": seq},
            prev_hash=prev,
            hash="",
        )
        prev = audit.event_hash(key, row)
        first = first or prev
        rows.append(row._replace(hash=prev)._asdict())
    return rows, first, prev


def populate(engine: Engine, events: int, per_item: int, key: bytes) -> int:
    """Items and their histories in bulk; returns the number of events written."""
    items = events // per_item
    with engine.begin() as conn:
        conn.execute(insert(Department), [{"id": 1, "code": "unit01", "name": "第1单位"}])
        conn.execute(
            insert(ProcessDefinition),
            [dict(id=1, key="p", version=1, name="p", bpmn_xml="", sha256="0" * 64, specs="", model={})],
        )
    prev_anchor = audit.GENESIS
    status = STATUSES[(per_item - 1) % len(STATUSES)]
    for start in range(1, items + 1, ITEMS_PER_BATCH):
        item_rows, event_rows, anchor_rows = [], [], []
        for item_id in range(start, min(start + ITEMS_PER_BATCH, items + 1)):
            history, first, head = _history(item_id, per_item, key)
            event_rows += history
            link = audit.anchor_hash(key, item_id, first, prev_anchor)
            anchor_rows.append({"item_id": item_id, "first_hash": first, "prev_hash": prev_anchor, "hash": link})
            prev_anchor = link
            item_rows.append({
                "id": item_id, "title": f"事项 {item_id}", "department_id": 1, "status": status, "status_label": "",
                "definition_id": 1, "created_at": START, "updated_at": START, "version": per_item,
                "history_seal": audit.seal(key, item_id, (per_item, head), status, per_item),
            })  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(Item), item_rows)
            conn.execute(insert(HistoryEvent), event_rows)
            conn.execute(insert(AuditAnchor), anchor_rows)
    return items * per_item


def verify(url: str) -> tuple[float, int, str]:
    """``rectiflow audit verify`` in its own process: seconds, its peak RSS (MB), its last line."""
    env = {**os.environ, "RECTIFLOW_DATABASE_URL": url, "RECTIFLOW_AUDIT_KEY": KEY}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    last = (done.stdout.strip().splitlines() or [done.stderr.strip()])[-1]
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-item", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: run in a scratch database there")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = f"sqlite:///{folder}/rectiflow.sqlite3"
        if args.postgres:
            url = stack.enter_context(scratch_database(args.postgres, "rectiflow_bench"))
        engine = make_engine(url)
        migrate.upgrade(engine)
        start = time.perf_counter()
        written = populate(engine, args.events, args.per_item, KEY.encode())
        engine.dispose()
        print(f"wrote {written:,} events ({written // args.per_item:,} items) in {time.perf_counter() - start:.1f} s")
        seconds, peak, last = verify(url)
        kind = "PostgreSQL" if args.postgres else "SQLite"
        print(f"audit verify on {kind}: {seconds:.1f} s, peak memory {peak} MB: {last}")


if __name__ == "__main__":
    main()
