"""Call activity benchmark: reject rounds inside a called process, through the engine as a request runs them.

    python bench/call_activity.py                       # SQLite in a temporary folder
    python bench/call_activity.py --rounds 1000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Deploys ``processes/examples`` (call_activity calls called_review), raises one item and sends its check
back ``--rounds`` times (revise, then check rejects), each step its own transaction as a request has it.
Prints the milliseconds of a round and the stored state's size near the start and at the end: flat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.audit_verify import KEY
from engine.bpmn import deploy
from engine.identity import identity
from engine.items import items, workflow
from engine.store import migrate
from engine.store.config import REPO_ROOT
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import Instance, Item

EXAMPLES = REPO_ROOT / "processes" / "examples"


def run(url: str, rounds: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine, KEY.encode())
    with transaction(sessions) as session:
        deploy.deploy_bundled(session, EXAMPLES)
        identity.add_department(session, "office", "办公室")
        identity.add_user(session, "reporter", "office", ["reporter"])
        identity.add_user(session, "manager", "office", ["manager"])
        identity.add_user(session, "approver", None, ["approver"])
        new = workflow.NewItem(title="调用基准", department="office", process="call_activity")
        item_id = workflow.create_item(session, identity.user_by_username(session, "reporter"), new, "UTC").id

    def step(username: str, data: dict[str, str]) -> None:
        with transaction(sessions) as session:
            (task,) = items.live_tasks(session, session.get_one(Item, item_id))
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)

    def size() -> int:
        with transaction(sessions) as session:
            return len(session.get_one(Instance, item_id).state)

    step("manager", {})
    times, sizes = [], {}
    for n in range(1, rounds + 1):
        began = time.perf_counter()
        step("manager", {})
        step("approver", {"decision": "reject", "comment": f"第{n}次退回"})
        times.append((time.perf_counter() - began) * 1000)
        if n in (10, rounds):
            sizes[n] = size()
    window = max(1, min(50, rounds // 10))
    print(f"{url.split(':')[0]}: {rounds} rounds through the call activity")
    first, last = statistics.median(times[:window]), statistics.median(times[-window:])
    print(f"  ms per round, rounds 1-{window}: {first:.1f}")
    print(f"  ms per round, last {window}: {last:.1f} ({last / first:.2f}x the first; target at most 1.5x)")
    print(f"  state bytes at round 10: {sizes.get(10)}, at round {rounds}: {sizes[rounds]}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: a scratch database is created on it")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        run(f"sqlite:///{folder}/bench.sqlite3", args.rounds)
        if args.postgres:
            run(stack.enter_context(scratch_database(args.postgres, "bench_call")), args.rounds)


if __name__ == "__main__":
    main()
