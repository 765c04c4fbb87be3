"""Migration benchmark: moving 1,000 running items onto a redesigned version (not a test).

    python bench/migration.py                                   # SQLite in a temporary folder
    python bench/migration.py --items 1000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Raises ``--items`` items of the default lifecycle spread over its four steps (a quarter in a reject
loop), deploys the redesigned version 2 of ``tests/redesign.py`` (a new step, a renamed one, a timer
removed, another moved), then times the dry run and the confirmed migration of all of them: the
worker moves them 50 to a transaction, each item in its own savepoint with its history event.
Beside it, the floor in the same run: SpiffWorkflow alone doing the same move per item
(deserialize, its own ``diff_workflow`` + ``migrate_workflow``, serialize), with no database. The
library compares the two specs for every workflow (it aligns spec objects, which each deserialisation
makes anew); the product plans from the target's element ids and needs no comparison per item.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.builder import serializer
from engine.bpmn.instance import dump, load_specs, restore
from engine.deadlines.worker import Worker
from engine.identity import identity
from engine.identity.identity import user_by_username
from engine.items import items, migrations, workflow
from engine.store import migrate
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import Instance, Item, ProcessDefinition, ProcessMigration
from tests.redesign import PROCESSES, deploy_version, second_version

KEY = "rectification_item"
AUDIT_KEY = b"bench-audit-key-0123456789abcdef0123456789abcdef"
CAST = {
    "reporter": ("office", ["reporter"]),
    "manager": ("office", ["manager"]),
    "owner": ("office", ["member"]),
    "approver": (None, ["approver"]),
    "designer": (None, ["designer"]),
}
PATH = [
    ("manager", {"measures": "增设取号机"}),
    ("manager", {"owner": "owner"}),
    ("owner", {"result": "已增设"}),
    ("approver", {"decision": "reject", "comment": "证据不足"}),
]


def populate(factory: sessionmaker[Session], count: int, forms: Path) -> None:
    with transaction(factory) as session:
        deploy.deploy_bundled(session, PROCESSES)
        identity.add_department(session, "office", "办公室")
        for username, (department, roles) in CAST.items():
            identity.add_user(session, username, department, roles)
    for n in range(count):
        with transaction(factory) as session:
            new = workflow.NewItem(title=f"事项 {n}", department="office")
            item = workflow.create_item(session, user_by_username(session, "reporter"), new, "Asia/Shanghai")
            for username, data in PATH[: n % len(PATH) + (1 if n % len(PATH) == 3 else 0)]:
                (task,) = items.live_tasks(session, item)
                workflow.complete_task(session, user_by_username(session, username), task.id, data)
    with transaction(factory) as session:
        deploy_version(session, second_version(forms), forms)


def floor(factory: sessionmaker[Session]) -> float:
    """SpiffWorkflow alone, per item (ms, median): deserialize, align and migrate, serialize."""
    registry = serializer().registry
    with transaction(factory) as session:
        older, newer = (deploy.get(session, KEY, version) for version in (1, 2))
        spec, subprocess_specs = load_specs(newer)
        states = list(session.scalars(select(Instance).join(Item).where(Item.definition_id == older.id)))
        times = []
        for state in states:
            start = time.perf_counter()
            spiff = restore(older, state)
            # The library aligns spec objects, which each deserialisation makes anew: it compares per workflow.
            top, _subprocesses = diff_workflow(registry, spiff, spec, subprocess_specs)
            migrate_workflow(top, spiff, spec)
            dump(spiff)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(url: str, count: int, forms: Path) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine, AUDIT_KEY)
    started = time.perf_counter()
    populate(factory, count, forms)
    print(f"{count} items on version 1 in {time.perf_counter() - started:.1f} s")
    floor_ms = floor(factory)

    ask = migrations.Ask(to_version=2, from_version=1)
    with transaction(factory) as session:
        designer = user_by_username(session, "designer")
        start = time.perf_counter()
        tried = migrations.dry_run(session, designer, KEY, ask)
        dry = time.perf_counter() - start
        asked = migrations.request(session, designer, KEY, ask)
    start = time.perf_counter()
    with transaction(factory) as session:
        migrations.confirm(session, user_by_username(session, "approver"), KEY, asked.id)
    # The worker moves the items, a batch per transaction, as `rectiflow worker` does.
    Worker(factory, "bench").run_until(threading.Event(), 0, until_idle=True)
    moved = time.perf_counter() - start
    with transaction(factory) as session:
        outcomes = [row["outcome"] for row in session.get_one(ProcessMigration, asked.id).report]
        on_v2 = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.version == 2))
        assert all(item.definition_id == on_v2 for item in session.scalars(select(Item)))
    assert len(tried) == count and outcomes.count("moved") == count, outcomes
    per_item = moved / count * 1000
    print(f"dry run   {dry:6.1f} s for {count} items ({dry / count * 1000:.1f} ms an item)")
    print(f"migration {moved:6.1f} s for {count} items ({per_item:.1f} ms an item, history and tasks included)")
    print(f"floor     {floor_ms:6.2f} ms an item: SpiffWorkflow's own migrate_workflow, no database")
    print(f"ratio     {per_item / floor_ms:6.1f}x the floor")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a scratch database is made and dropped")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = (
            stack.enter_context(scratch_database(args.postgres, "bench_migration"))
            if args.postgres
            else f"sqlite:///{folder / 'bench.sqlite3'}"
        )
        run(url, args.items, folder / "forms")


if __name__ == "__main__":
    main()
