"""The worker over real processes: due timers fire exactly once each, even when a worker is killed midway."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import items, workflow
from engine.store.config import REPO_ROOT
from engine.store.db import reading, transaction
from engine.store.models import HistoryEvent, Item, Job
from tests.conftest import People

ITEMS = 200  # two timers each: 400 due timers, enough for the two survivors to contend
TZ = "Asia/Shanghai"


def arm_timers(sessions: sessionmaker[Session], count: int) -> list[int]:
    """Items at the owner's stage whose warning and overdue timers were armed in January: due now."""
    ids = []
    with time_machine.travel("2026-01-01T02:00:00+00:00", tick=False), transaction(sessions) as session:
        reporter, manager = (identity.user_by_username(session, name) for name in ("reporter", "manager"))
        for n in range(count):
            new = workflow.NewItem(title=f"到期 {n}", department="office", deadline=dt.date(2026, 1, 20))
            item = workflow.create_item(session, reporter, new, TZ)
            for data in ({"measures": "m"}, {"owner": "owner"}):
                (task,) = items.live_tasks(session, item)
                workflow.complete_task(session, manager, task.id, data)
            ids.append(item.id)
    return ids


def worker(database_url: str, name: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "RECTIFLOW_DATABASE_URL": database_url, "RECTIFLOW_INSTANCE_PATH": str(tmp_path)}
    command = [sys.executable, "-m", "web.cli", "worker", "--name", name, "--until-idle", "--batch", "5"]
    command += ["--lease", "2", "--interval", "0.2"]
    # Its log goes to a file (a pipe nobody reads could fill and stall it), quoted when the test fails.
    with (tmp_path / f"{name}.log").open("w") as log:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO_ROOT)


def log_of(name: str, tmp_path: Path) -> str:
    return (tmp_path / f"{name}.log").read_text()


def frozen_midway(doomed: subprocess.Popen[str], sessions: sessionmaker[Session], tmp_path: Path) -> set[int]:
    """Stop ``doomed`` (SIGSTOP) at a moment it holds leased jobs it has not run; those jobs' ids.

    A fast machine may run a whole batch between two looks, so stop, look, and let it go on until
    the stop lands inside a batch: the kill that follows then always leaves leases behind.
    """
    assert doomed.stdout is not None
    # The look only reads: a writing transaction would wait for the write lock the stopped worker may hold.
    look = sessionmaker(reading(sessions.kw["bind"]))
    while True:
        assert doomed.stdout.readline().startswith("job "), log_of("doomed", tmp_path)
        doomed.send_signal(signal.SIGSTOP)
        with transaction(look) as session:
            leased = set(session.scalars(select(Job.id).where(Job.locked_by == "doomed")))
        if leased:
            return leased
        doomed.send_signal(signal.SIGCONT)


def test_a_worker_killed_midway_leaves_its_jobs_to_the_others_and_every_timer_fires_exactly_once(
    database_url: str, sessions: sessionmaker[Session], people: People, tmp_path: Path
) -> None:
    ids = arm_timers(sessions, ITEMS)
    with transaction(sessions) as session:
        timers = select(func.count()).select_from(Job).where(Job.kind == workflow.TIMER_JOB, Job.due_at.is_not(None))
        assert session.scalar(timers) == ITEMS

    with worker(database_url, "doomed", tmp_path) as doomed:
        try:
            abandoned = frozen_midway(doomed, sessions, tmp_path)
            doomed.send_signal(signal.SIGKILL)  # outright, in the middle of its leased batch
            doomed.wait(timeout=30)
        finally:
            if doomed.poll() is None:
                doomed.kill()
    assert doomed.returncode == -signal.SIGKILL

    # Two workers share what is left, the abandoned batch once its lease runs out.
    survivors = [worker(database_url, name, tmp_path) for name in ("first", "second")]
    taken_over: set[int] = set()
    try:
        for survivor in survivors:
            output, _ = survivor.communicate(timeout=300)
            taken_over |= {int(line.split()[1]) for line in output.splitlines() if line.startswith("job ")}
    finally:
        for survivor in survivors:
            if survivor.poll() is None:
                survivor.kill()
    for name, survivor in zip(("first", "second"), survivors, strict=True):
        assert survivor.returncode == 0, log_of(name, tmp_path)

    with transaction(sessions) as session:
        fired = Counter(
            (event.item_id, event.task)
            for event in session.scalars(select(HistoryEvent).where(HistoryEvent.action == "escalation"))
        )
        jobs = list(session.scalars(select(Job)))
        statuses = set(session.scalars(select(Item.status).where(Item.id.in_(ids))))
    expected = {(item_id, timer) for item_id in ids for timer in ("deadline_warning", "deadline_overdue")}
    assert set(fired) == expected  # none lost
    assert set(fired.values()) == {1}  # none twice
    assert all(job.due_at is None and job.locked_by is None for job in jobs)
    assert abandoned <= taken_over  # the killed worker's leased jobs ran once its lease was out
    assert statuses == {"owner"}
