"""Faults under load: a web process killed outright, PostgreSQL restarted. Clients see clean answers or retry,
the service recovers by itself, and the history shows every completion the clients were told of, once.

The load is ``bench/load.py``'s: simulated users driving whole lifecycles, sending a request again (with
its ``Idempotency-Key``) after a dropped connection or a 502/503/504 problem. (A worker killed mid-timer:
``tests/engine/deadlines/test_worker.py``.)
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bench import load
from engine.audit import audit
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import HistoryEvent, Item, Task
from tests.conftest import AUDIT_KEY, DEFAULT_PG, free_port, server_process, unavailable
from tests.web.test_scale_out import TWO, until, workers

API = "/api/v1"
TEAMS = 6
# Lifecycles every team finishes, on average, after the fault: the service is back for everyone.
AFTER = 2
# The longest a client may go without any answer after the fault: "recovers by itself within seconds".
RECOVERY_SECONDS = 15.0


class Cluster:
    """A PostgreSQL server of the test's own (initdb in a temporary folder): restarting it disturbs no other test."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            unavailable("PostgreSQL's server programs (pg_ctl, initdb) are not installed")
        self.bin = Path(found[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="rectiflow-pg-"))
        self.port = free_port()
        # The server refuses to run as root: as root, its files and processes belong to the postgres account.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.folder / "data"), "-U", "postgres", "-A", "trust", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_owner, str(self.bin / program), *args], check=True, capture_output=True, timeout=120)

    def pg_ctl(self, action: str) -> None:
        options = f"-F -p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", log, "-o", options, "-m", "fast", "-w", action)

    def remove(self) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    own = Cluster()
    try:
        own.pg_ctl("start")
        yield own
    finally:
        own.remove()


def under_load(base: str, tokens: dict[int, dict[str, str]], fault: Callable[[], None]) -> tuple[load.Log, float]:
    """Load until a few lifecycles closed, then ``fault()``, then ``AFTER`` more per team; the log, and when."""
    at: list[float] = []
    started = time.monotonic()

    def go_on(log: load.Log) -> bool:
        assert time.monotonic() - started < 300, f"the load did not get through: {log.errors[:5]}"
        if not at and len(log.closed) >= TEAMS:
            fault()
            at.append(time.perf_counter())
        return bool(at) and len([c for c in log.calls if c.operation == "create" and c.started > at[0]]) >= (
            AFTER * TEAMS
        )

    log = load.load(base, tokens, go_on)
    return log, at[0]


def check(url: str, log: load.Log, fault_at: float) -> None:
    """No client error; every completion a client was told of is in the history once, and no other; all verifies."""
    assert log.errors == []
    answered = sorted(call.started + call.seconds for call in log.calls if call.started + call.seconds > fault_at)
    gaps = [b - a for a, b in zip([fault_at, *answered], answered, strict=False)]
    assert max(gaps) < RECOVERY_SECONDS, f"no answer for {max(gaps):.1f} s after the fault"

    completions = [call for call in log.calls if call.operation == "complete"]
    created = {call.item_id for call in log.calls if call.operation == "create"}
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine, AUDIT_KEY.encode())) as session:
            items = {row.id: row.status for row in session.execute(select(Item.id, Item.status))}
            done = select(HistoryEvent.item_id, HistoryEvent.task).where(HistoryEvent.action == "completed")
            completed = Counter(tuple(row) for row in session.execute(done))
            tasks = {row.id: (row.state, row.name) for row in session.execute(select(Task.id, Task.state, Task.name))}
            report = audit.verify(session)
    finally:
        engine.dispose()

    assert set(items) == created  # no item lost, none raised twice by a retried create
    assert set(items.values()) == {"closed"}
    told = Counter((call.item_id, tasks[call.task_id][1]) for call in completions)
    assert set(told.values()) == {1}  # each task was completed once as far as the clients know
    assert all(tasks[call.task_id][0] == "completed" for call in completions)  # none of them lost
    assert completed == told  # the history has exactly those completions: none applied twice, none unknown
    assert report.ok, report.problems[:5]


def test_a_web_process_killed_under_load_is_replaced_and_nothing_is_lost_or_done_twice(
    redis_url: str, tmp_path: Path
) -> None:
    server_url = os.environ.get("RECTIFLOW_TEST_POSTGRES_URL", DEFAULT_PG)
    with scratch_database(server_url, "rectiflow_fault") as url:
        tokens = load.seed(url, TEAMS)
        environ = {"RECTIFLOW_RATELIMIT_STORAGE_URI": redis_url}
        with server_process(url, tmp_path, environ, TWO) as server:
            until("two workers", lambda: len(workers(server)) == 2)
            victims: list[int] = []

            def kill_one() -> None:
                victims.append(min(workers(server)))
                os.kill(victims[0], signal.SIGKILL)

            log, fault_at = under_load(server.base + API, tokens, kill_one)
            assert victims[0] not in workers(server) and len(workers(server)) == 2  # replaced
        check(url, log, fault_at)


def test_postgresql_restarted_under_load_is_a_503_while_down_and_the_service_recovers_by_itself(
    cluster: Cluster, redis_url: str, tmp_path: Path
) -> None:
    tokens = load.seed(cluster.url, TEAMS)
    environ = {"RECTIFLOW_RATELIMIT_STORAGE_URI": redis_url}
    with server_process(cluster.url, tmp_path, environ, TWO) as server:
        headers = {"Authorization": f"Bearer {tokens[0]['manager']}"}
        assert requests.get(f"{server.base}{API}/items", headers=headers, timeout=30).status_code == 200
        cluster.pg_ctl("stop")
        down = requests.get(f"{server.base}{API}/items", headers=headers, timeout=30)
        assert (down.status_code, down.headers["Content-Type"]) == (503, "application/problem+json")
        assert down.headers["Retry-After"] == "1" and "database" in down.json()["detail"]
        cluster.pg_ctl("start")
        # The pool's connections died with the server: each is checked before use and replaced, no 503 now.
        assert requests.get(f"{server.base}{API}/items", headers=headers, timeout=30).status_code == 200

        log, fault_at = under_load(server.base + API, tokens, lambda: cluster.pg_ctl("restart"))
    assert sum(call.tries > 1 for call in log.calls) > 0  # the restart was felt by requests in flight
    check(cluster.url, log, fault_at)
