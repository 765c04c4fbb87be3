"""Lifecycle benchmark: real HTTP against ``rectiflow serve``, single client, plus the raw engine floor.

    python bench/lifecycle.py                       # SQLite only
    python bench/lifecycle.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/lifecycle.py --lifecycles 100 --rounds 1000

Prints median/p95 latency of create/complete/get/list, full lifecycles per second, the cost and
stored state size of a reject-and-resubmit round at round 1 and at the last round of one item,
and the raw SpiffWorkflow floor (stock library, the same bundle in-process, stateless at every
step), its lifecycles interleaved with the HTTP ones so that both meet the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.audit_verify import KEY
from engine.bpmn import deploy
from engine.identity import identity
from engine.store import migrate
from engine.store.config import REPO_ROOT
from engine.store.db import make_engine, make_session_factory, scratch_database, transaction
from engine.store.models import Instance

PROCESSES = REPO_ROOT / "processes"
CAST = {"reporter": ["reporter"], "manager": ["manager"], "owner": ["member"], "approver": ["approver"]}
STEPS = [
    ("manager", {"measures": "增设自助取号机"}),
    ("manager", {"owner": "owner"}),
    ("owner", {"result": "已整改"}),
    ("approver", {"decision": "approve"}),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed(url: str) -> dict[str, str]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        deploy.deploy_bundled(session, PROCESSES)
        identity.add_department(session, "office", "办公室")
        for username, roles in CAST.items():
            identity.add_user(session, username, None if username == "approver" else "office", roles)
        tokens = {username: identity.create_token(session, username) for username in CAST}
    engine.dispose()
    return tokens


LISTENING = re.compile(r"listening on (http://\S+?)/api")


@contextmanager
def server(url: str, *options: str, **environ: str) -> Iterator[tuple[str, int]]:
    """``rectiflow serve --port 0 OPTIONS`` over ``url`` in its own process, with a temporary instance folder
    and ``environ`` besides; its base URL (no path) and pid, until it is stopped on leaving."""
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "RECTIFLOW_DATABASE_URL": url, "RECTIFLOW_INSTANCE_PATH": instance}
        env |= {"RECTIFLOW_AUDIT_KEY": KEY, **environ}
        command = [sys.executable, "-m", "web.cli", "serve", "--port", "0", *options]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT) as process:
            assert process.stdout is not None
            match = LISTENING.search(process.stdout.readline())
            try:
                assert match, "the server did not start"
                yield match.group(1), process.pid
            finally:
                process.terminate()
                process.wait(timeout=60)


class Client:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.http = requests.Session()
        self.headers = {user: {"Authorization": f"Bearer {token}"} for user, token in tokens.items()}
        self.timings: dict[str, list[float]] = {"create": [], "complete": [], "get": [], "list": []}

    def _timed(self, kind: str, call: Callable[[], requests.Response], status: int) -> dict[str, Any]:
        start = time.perf_counter()
        response = call()
        self.timings[kind].append(time.perf_counter() - start)
        assert response.status_code == status, (kind, response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def create(self) -> dict[str, Any]:
        body = {"title": "窗口服务排队时间长", "department": "office"}
        return self._timed(
            "create", lambda: self.http.post(f"{self.base}/items", json=body, headers=self.headers["reporter"]), 201
        )

    def complete(self, item: dict[str, Any], user: str, data: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/tasks/{item['tasks'][0]['id']}/complete"
        return self._timed(
            "complete", lambda: self.http.post(url, json={"data": data}, headers=self.headers[user]), 200
        )

    def get(self, item_id: int) -> None:
        self._timed("get", lambda: self.http.get(f"{self.base}/items/{item_id}", headers=self.headers["manager"]), 200)

    def list(self) -> None:
        self._timed(
            "list", lambda: self.http.get(f"{self.base}/items?per_page=20", headers=self.headers["manager"]), 200
        )


def lifecycles(client: Client, count: int, floor: Floor) -> float:
    """Lifecycles per second over HTTP; a floor lifecycle runs before each, so both meet the same load."""
    elapsed = 0.0
    for _ in range(count):
        floor.lifecycle()
        start = time.perf_counter()
        item = client.create()
        client.get(item["id"])
        client.list()
        for user, data in STEPS:
            item = client.complete(item, user, data)
        assert item["status"] == "closed"
        elapsed += time.perf_counter() - start
    return count / elapsed


def state_size(url: str, item_id: int) -> int:
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        size = len(session.get_one(Instance, item_id).state)
    engine.dispose()
    return size


def reject_loop(client: Client, url: str, rounds: int) -> dict[str, float]:
    """Cost (ms, median of a window of 20 rounds) and state size at the first and last rounds."""
    item = client.create()
    item = client.complete(item, "manager", STEPS[0][1])
    item = client.complete(item, "manager", STEPS[1][1])
    costs: list[float] = []
    sizes: dict[int, int] = {}
    for n in range(1, rounds + 1):
        start = time.perf_counter()
        item = client.complete(item, "owner", {"result": f"第{n}次整改"})
        item = client.complete(item, "approver", {"decision": "reject", "comment": f"第{n}次退回"})
        costs.append((time.perf_counter() - start) * 1000)
        if n in (1, rounds):
            sizes[n] = state_size(url, item["id"])
    window = min(20, rounds)
    return {
        "first_ms": statistics.median(costs[:window]),
        "last_ms": statistics.median(costs[-window:]),
        "first_bytes": sizes[1],
        "last_bytes": sizes[rounds],
    }


def floor_steps() -> list[dict[str, Any]]:
    """Each step's data as the engine receives it: what the client sends plus the form's defaults."""
    from engine.items.forms import with_defaults

    forms = {"measures": "define_measures", "owner": "assign_owner", "result": "rectify", "decision": "review"}
    found = []
    for _user, data in STEPS:
        form = json.loads((PROCESSES / "forms" / f"{forms[next(iter(data))]}.json").read_text())
        found.append(with_defaults(form, data))
    return found


class Floor:
    """Stock SpiffWorkflow on the same bundle, stateless at every step: the floor a completion is measured against.

    The library as it ships (Camunda parser, serializer and in-process script engine, the DMN evaluated by
    its own business rule task): each step deserializes the whole workflow with its spec, completes the
    task, runs the engine and serializes it again, as a service keeping nothing between requests would.
    """

    def __init__(self) -> None:
        from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
        from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

        from engine.items.workflow import DEADLINE_VARIABLE
        from engine.store.clock import NEVER, days_before

        parser = CamundaParser()
        parser.add_bpmn_files([str(path) for path in sorted(PROCESSES.glob("*.bpmn"))])
        parser.add_dmn_files([str(path) for path in sorted(PROCESSES.glob("*.dmn"))])
        self.spec = parser.get_spec("rectification_item")
        self.subprocesses = parser.get_subprocess_specs("rectification_item")
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
        self.engine = PythonScriptEngine(environment=TaskDataEnvironment({"days_before": days_before}))
        # The data the product starts an item with (no deadline: the timers are armed but never due).
        self.start = {
            "department": "office",
            "units": ["office"],
            DEADLINE_VARIABLE: NEVER,
            "category": "",
            "severity": "一般",
        }
        self.steps = floor_steps()
        self.timings: list[float] = []

    def lifecycle(self) -> None:
        """One item from creation to closure; each step's time is noted."""
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        workflow = BpmnWorkflow(self.spec, self.subprocesses, script_engine=self.engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(self.start)
        workflow.do_engine_steps()
        state = self.serializer.serialize_json(workflow)
        for data in self.steps:
            started = time.perf_counter()
            workflow = self.serializer.deserialize_json(state)
            workflow.script_engine = self.engine
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(data)
            task.run()
            workflow.refresh_timers()
            workflow.do_engine_steps()
            state = self.serializer.serialize_json(workflow)
            self.timings.append(time.perf_counter() - started)
        # Only the deadline watches (event sub-processes) still wait: the item is closed.
        assert not workflow.get_tasks(state=TaskState.READY, manual=True), "the floor's lifecycle did not close"


def run(label: str, url: str, args: argparse.Namespace) -> None:
    tokens = seed(url)
    floor = Floor()
    with server(url) as (base, _pid):
        client = Client(base + "/api/v1", tokens)
        lifecycles(client, 10, floor)  # warm-up: imports, caches, connection pool
        client.timings = {kind: [] for kind in client.timings}
        floor.timings = []
        per_second = lifecycles(client, args.lifecycles, floor)
        loop = reject_loop(client, url, args.rounds)
    print(f"\n== {label}: {args.lifecycles} lifecycles over HTTP, one client ==")
    print(f"{'operation':<10} {'median ms':>10} {'p95 ms':>8} {'n':>6}")
    for kind, values in client.timings.items():
        if kind == "complete":
            values = values[: args.lifecycles * len(STEPS)]
        ms = [v * 1000 for v in values]
        print(f"{kind:<10} {statistics.median(ms):>10.2f} {percentile(ms, 0.95):>8.2f} {len(ms):>6}")
    floor_ms = statistics.median(floor.timings) * 1000
    floor_p95 = percentile(floor.timings, 0.95) * 1000
    print(f"{'floor step':<10} {floor_ms:>10.2f} {floor_p95:>8.2f} {len(floor.timings):>6}")
    complete_median = statistics.median(client.timings["complete"][: args.lifecycles * len(STEPS)]) * 1000
    print(f"full lifecycles per second: {per_second:.1f}")
    print(
        f"reject round 1: {loop['first_ms']:.2f} ms, state {loop['first_bytes']} B; "
        f"round {args.rounds}: {loop['last_ms']:.2f} ms, state {loop['last_bytes']} B"
    )
    print("targets:")
    print(f"  complete median / floor step = {complete_median / floor_ms:.2f}x (target <= 3x)")
    print(f"  round {args.rounds} / round 1 cost   = {loop['last_ms'] / loop['first_ms']:.2f}x (target <= 1.5x)")
    print(f"  round {args.rounds} / round 1 state  = {loop['last_bytes'] / loop['first_bytes']:.2f}x (target <= 2x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a scratch database is created and dropped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", args)
    if args.postgres:
        with scratch_database(args.postgres, "rectiflow_bench") as url:
            run("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
