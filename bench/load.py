"""Load from outside: 50 simulated users against ``rectiflow serve`` on PostgreSQL, 1, 2 and 4 web processes.

    python bench/load.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/load.py --postgres URL --users 50 --seconds 30 --processes 1 2 4

Each simulated user works the items of a department of its own, through the whole lifecycle: it
raises an item, and for each of the four steps reads the inbox of the person whose turn it is, reads
the item and completes the task; once per lifecycle it reads the ledger (a filtered, sorted page).
No pause between requests (a closed loop): the figures are what the server sustains, and each
request's latency includes its wait in the server's queue. Completions and creations carry an
``Idempotency-Key`` and are sent again after a dropped connection or a 502/503/504, as a careful
client does (``Retry-After`` honoured); anything else is an error, and there must be none.

Per number of web processes it prints lifecycles per second, p50/p95/p99 per operation, and the CPU
the server's processes (web workers and their script children) and PostgreSQL spent per lifecycle,
beside the floor: the CPU of one lifecycle of stock SpiffWorkflow on the same diagram, stateless at
every step (``bench/lifecycle.py``'s ``Floor``), measured in the same run. The client runs on the same
machine and takes CPU from the server: on a 2-core machine, more processes than cores gain little.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lifecycle import PROCESSES, Floor, percentile, server
from engine.bpmn import deploy
from engine.identity import identity
from engine.store import migrate
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction

# Who acts at each of ``STEPS`` (the same order): the team's manager twice, its owner, its approver.
ROLES = {"reporter": ["reporter"], "manager": ["manager"], "owner": ["member"], "approver": ["approver"]}
OPERATIONS = ("create", "inbox", "item", "ledger", "complete")
# A request is sent again after these answers (the server said: not now) or a dropped connection.
RETRIED = {502, 503, 504}
GIVE_UP_AFTER = 60.0


def team_accounts(team: int) -> dict[str, str]:
    """Role -> username of one simulated user's department."""
    return {role: f"t{team}_{role}" for role in ROLES}


def seed(url: str, teams: int) -> dict[int, dict[str, str]]:
    """A fresh database with the bundle deployed and ``teams`` departments of four accounts; their tokens."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    tokens: dict[int, dict[str, str]] = {}
    with transaction(make_session_factory(engine)) as session:
        deploy.deploy_bundled(session, PROCESSES)
        for team in range(teams):
            identity.add_department(session, f"d{team}", f"整改组{team}")
            for role, username in team_accounts(team).items():
                identity.add_user(session, username, f"d{team}", ROLES[role])
            tokens[team] = {role: identity.create_token(session, name) for role, name in team_accounts(team).items()}
    engine.dispose()
    return tokens


@dataclass
class Call:
    """One logical request as the client saw it (retries included)."""

    operation: str
    started: float
    seconds: float
    status: int
    tries: int
    item_id: int | None = None
    task_id: int | None = None
    replayed: bool = False


@dataclass
class Log:
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def done(self, item_id: int) -> None:
        with self.lock:
            self.closed.append(item_id)


class Team:
    """One simulated user: whole lifecycles of its department's items, one request at a time."""

    def __init__(self, base: str, team: int, tokens: dict[str, str], log: Log) -> None:
        self.base, self.team, self.log = base, team, log
        self.http = requests.Session()
        self.auth = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
        accounts = team_accounts(team)
        self.steps = [
            ("manager", {"measures": "增设自助取号机"}),
            ("manager", {"owner": accounts["owner"]}),
            ("owner", {"result": "已整改"}),
            ("approver", {"decision": "approve"}),
        ]

    def send(
        self, operation: str, method: str, path: str, role: str, expect: int, task_id: int | None = None, **kw: Any
    ) -> dict[str, Any]:
        """One request, sent again (same ``Idempotency-Key``) while the server cannot answer; logged once."""
        started = time.perf_counter()
        headers = dict(self.auth[role])
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        tries = 0
        while True:
            tries += 1
            try:
                response = self.http.request(method, self.base + path, headers=headers, timeout=60, **kw)
            except requests.ConnectionError:
                status, wait = 0, 0.2
            else:
                status = response.status_code
                if status not in RETRIED:
                    break
                if response.headers.get("Content-Type") != "application/problem+json":
                    self.log.fail(f"{operation}: {status} without problem details: {response.text[:200]}")
                wait = float(response.headers.get("Retry-After", "0.2"))
            if time.perf_counter() - started > GIVE_UP_AFTER:
                raise RuntimeError(f"{operation} {path}: still {status or 'no answer'} after {GIVE_UP_AFTER:.0f} s")
            # What a careful client does when the server says "not now" or a process is being replaced.
            time.sleep(wait)
        if status != expect:
            raise RuntimeError(f"{operation} {path}: {status} {response.text[:300]}")
        body: dict[str, Any] = response.json()
        item_id = body.get("id") if operation in {"create", "item", "complete"} else None
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        elapsed = time.perf_counter() - started
        self.log.add(Call(operation, started, elapsed, status, tries, item_id, task_id, replayed))
        return body

    def lifecycle(self) -> None:
        new = {"title": "窗口服务排队时间长", "department": f"d{self.team}"}
        item = self.send("create", "POST", "/items", "reporter", 201, json=new)
        self.send("ledger", "GET", f"/items?department=d{self.team}&sort=-deadline&per_page=20", "manager", 200)
        for role, data in self.steps:
            inbox = self.send("inbox", "GET", "/tasks", role, 200)
            task = next(task["id"] for task in inbox["tasks"] if task["item_id"] == item["id"])
            self.send("item", "GET", f"/items/{item['id']}", role, 200)
            path = f"/tasks/{task}/complete"
            item = self.send("complete", "POST", path, role, 200, task_id=task, json={"data": data})
        if item["status"] != "closed":
            raise RuntimeError(f"item {item['id']} ended at {item['status']}")
        self.log.done(item["id"])

    def run_until(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.lifecycle()
            except Exception as exc:  # every failure is counted and shown; the user goes on with a new item
                self.log.fail(f"team {self.team}: {exc}")


def load(base: str, tokens: dict[int, dict[str, str]], until: Callable[[Log], bool]) -> Log:
    """Every team works in a thread of its own until ``until(log)`` (checked every 50 ms); what they saw."""
    log, stop = Log(), threading.Event()
    threads = [threading.Thread(target=Team(base, n, team, log).run_until, args=(stop,)) for n, team in tokens.items()]
    for thread in threads:
        thread.start()
    try:
        while not until(log) and not stop.wait(0.05):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=GIVE_UP_AFTER + 30)
    return log


# --- CPU of the server's processes and of PostgreSQL, from /proc -----------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """CPU seconds of a process and of its children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / TICK  # utime stime cutime cstime


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its live descendants (gunicorn workers, script children).

    A process gone meanwhile is skipped: its time is in its parent's cutime once reaped.
    """
    try:
        total = _cpu_of(pid)
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    return total + sum(tree_cpu(int(child)) for child in children)


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (backends, checkpointer, WAL writer)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if text.partition("(")[2].startswith("postgres"):
            total += sum(int(value) for value in text.rpartition(")")[2].split()[11:13]) / TICK
    return total


# --- one configuration ------------------------------------------------------------------------------------------------


def summary(log: Log, seconds: float) -> dict[str, Any]:
    closed = len(log.closed)
    found: dict[str, Any] = {"lifecycles": closed, "per_second": closed / seconds, "errors": list(log.errors)}
    for operation in OPERATIONS:
        ms = [call.seconds * 1000 for call in log.calls if call.operation == operation]
        found[operation] = (percentile(ms, 0.5), percentile(ms, 0.95), percentile(ms, 0.99), len(ms)) if ms else None
    found["retried"] = sum(call.tries > 1 for call in log.calls)
    return found


def measure(url: str, processes: int, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_database(url, "rectiflow_load") as database:
        tokens = seed(database, args.users)
        # The login limits' store of several processes; and more logins than 50 users make at once.
        environ = {"RECTIFLOW_LOGIN_ADDRESS_LIMIT": "100000 per minute"}
        if processes > 1:
            environ["RECTIFLOW_RATELIMIT_STORAGE_URI"] = args.redis
        with server(database, "--processes", str(processes), **environ) as (base, pid):
            api = base + "/api/v1"
            load(api, dict(list(tokens.items())[: min(4, args.users)]), lambda log: len(log.closed) >= 8)  # warm-up
            cpu, db_cpu, started = tree_cpu(pid), postgres_cpu(), time.perf_counter()
            log = load(api, tokens, lambda _log: time.perf_counter() - started >= args.seconds)
            elapsed = time.perf_counter() - started
            found = summary(log, elapsed)
            lifecycles = max(1, found["lifecycles"])
            found["server_cpu_ms"] = (tree_cpu(pid) - cpu) * 1000 / lifecycles
            found["postgres_cpu_ms"] = (postgres_cpu() - db_cpu) * 1000 / lifecycles
    return found


def floor_cpu_ms(lifecycles: int = 20) -> float:
    """CPU milliseconds of one lifecycle of stock SpiffWorkflow on the same diagram, stateless at each step."""
    floor = Floor()
    floor.lifecycle()  # warm-up
    started = time.process_time()
    for _ in range(lifecycles):
        floor.lifecycle()
    return (time.process_time() - started) * 1000 / lifecycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", required=True, help="a PostgreSQL server URL; a scratch database per run")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the login limits' store (2+ processes)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    floor = floor_cpu_ms()
    print(f"{args.users} users, {args.seconds:g} s per run, {os.cpu_count()} CPUs (the client shares them)")
    print(f"floor: stock SpiffWorkflow, CPU per lifecycle {floor:.1f} ms")
    failed = False
    for processes in args.processes:
        found = measure(args.postgres, processes, args)
        print(f"\n== {processes} web process{'es' if processes > 1 else ''} ==")
        print(
            f"lifecycles: {found['lifecycles']} ({found['per_second']:.1f}/s), requests sent again: {found['retried']}"
        )
        print(f"{'operation':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'n':>6}")
        for operation in OPERATIONS:
            if found[operation]:
                p50, p95, p99, n = found[operation]
                print(f"{operation:<10} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {n:>6}")
        server_ms, db_ms = found["server_cpu_ms"], found["postgres_cpu_ms"]
        ratio = server_ms / floor
        print(f"CPU per lifecycle: server {server_ms:.1f} ms ({ratio:.1f}x the floor), PostgreSQL {db_ms:.1f} ms")
        for error in found["errors"][:10]:
            print(f"ERROR {error}")
        failed |= bool(found["errors"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
