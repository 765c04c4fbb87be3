"""Backup benchmark: ``rectiflow export`` and ``rectiflow import`` over 100,000 items (not a test).

    python bench/backup.py                        # SQLite -> SQLite in a temporary folder
    python bench/backup.py --items 100000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Seeds the report benchmark's items (``bench/reports.py``), gives every item the stored state of a
real instance (about 10 kB) and a hash-chained history of three events, then runs the two commands
as the operator would, each in its own process: export from SQLite, import (with its audit
verification) into a scratch PostgreSQL database, or a second SQLite file. Prints their times, the
file's size and each process's peak memory.
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

from sqlalchemy import Engine, bindparam, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.audit_verify import KEY
from bench.reports import batches, seed
from engine.audit import audit
from engine.identity import identity
from engine.items import workflow
from engine.store import migrate
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import AuditAnchor, HistoryEvent, Instance, Item

STEPS = [("created", None, "identified", {}), ("complete", "measures", "owner", {"measures": "措施"})]


def histories(engine: Engine, events_per_item: int = 3) -> None:
    """A real instance's state for every seeded item, and a chained, anchored history of its events."""
    key = KEY.encode()
    sessions = make_session_factory(engine, key)
    with transaction(sessions) as session:
        identity.add_user(session, "reporter", "unit01", ["reporter"])
        reporter = identity.user_by_username(session, "reporter")
        real = workflow.create_item(session, reporter, workflow.NewItem(title="样本", department="unit01"), "UTC")
        model = session.get_one(Instance, real.id)
        state, version, data = model.state, model.serializer_version, model.data
    with transaction(sessions) as session:
        # The sample item joined the global chain as its transaction committed.
        prev_anchor = session.scalars(select(AuditAnchor.hash)).one()
        items = session.execute(
            select(Item.id, Item.created_at, Item.status, Item.version).where(Item.id != real.id).order_by(Item.id)
        )
        rows = ({"item_id": i, "created_at": at, "status": s, "version": v} for i, at, s, v in items)
        for batch in batches(rows):
            session.execute(
                insert(Instance),
                [{"item_id": r["item_id"], "serializer_version": version, "state": state, "data": data} for r in batch],
            )
            events, anchors, seals = [], [], []
            for r in batch:
                prev = audit.GENESIS
                steps = [STEPS[0], *[STEPS[1]] * (events_per_item - 1)]
                for seq, (action, task, status, fields) in enumerate(steps, start=1):
                    # The last event leaves the item in its seeded status, as verification checks.
                    status = r["status"] if seq == len(steps) else status
                    event = HistoryEvent(
                        item_id=r["item_id"], seq=seq, at=r["created_at"] + dt.timedelta(minutes=seq), actor="manager",
                        action=action, task=task, status_from=None, status_to=status, data=fields, prev_hash=prev,
                    )  # fmt: skip
                    event.hash = prev = audit.event_hash(key, event)
                    events.append(
                        {c.key: getattr(event, c.key) for c in HistoryEvent.__table__.columns if c.key != "id"}
                    )
                    if seq == 1:
                        link = AuditAnchor(item_id=r["item_id"], first_hash=event.hash, prev_hash=prev_anchor)
                        link.hash = prev_anchor = audit.anchor_hash(key, r["item_id"], event.hash, prev_anchor)
                        anchors.append({"item_id": r["item_id"], "first_hash": event.hash, "prev_hash": link.prev_hash,
                                        "hash": link.hash})  # fmt: skip
                head = (len(steps), prev)
                seals.append({"i": r["item_id"], "s": audit.seal(key, r["item_id"], head, r["status"], r["version"])})
            session.execute(insert(HistoryEvent), events)
            session.execute(insert(AuditAnchor), anchors)
            items_table = Item.__table__
            session.execute(
                update(items_table).where(items_table.c.id == bindparam("i")).values(history_seal=bindparam("s")),
                seals,
            )


def rectiflow(url: str, *args: str) -> tuple[float, int]:
    """Run one command in its own process: seconds taken, and the peak memory of the processes so far (MB)."""
    start = time.perf_counter()
    env = {**os.environ, "RECTIFLOW_DATABASE_URL": url, "RECTIFLOW_AUDIT_KEY": KEY}
    subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: import into a scratch database there")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        source = f"sqlite:///{folder}/source.sqlite3"
        engine = make_engine(source)
        migrate.upgrade(engine)
        start = time.perf_counter()
        seed(engine, args.items)
        histories(engine)
        engine.dispose()
        print(f"seeded {args.items:,} items in {time.perf_counter() - start:.1f} s")
        target = f"sqlite:///{folder}/target.sqlite3"
        if args.postgres:
            target = stack.enter_context(scratch_database(args.postgres, "rectiflow_bench"))
        dump = folder / "rectiflow.backup.gz"
        seconds, peak = rectiflow(source, "export", str(dump))
        print(f"export from SQLite: {seconds:.1f} s, {dump.stat().st_size / 1e6:.1f} MB file, peak memory {peak} MB")
        seconds, peak = rectiflow(target, "import", str(dump))
        kind = "PostgreSQL" if args.postgres else "SQLite"
        print(f"import into {kind} (audit verify included): {seconds:.1f} s, peak memory so far {peak} MB")


if __name__ == "__main__":
    main()
