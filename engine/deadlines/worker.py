"""The background worker: claims due jobs and runs them, one job per transaction.

Jobs are rows (``Job``). A worker claims a few due ones at a time, skipping rows another worker is
claiming right now (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has a single writer anyway),
and marks them leased until ``now + lease``. Running a job and releasing its lease commit together,
so a worker killed mid-job leaves the lease to expire and another worker runs the job again from
the stored state; a timer that already fired no longer waits, so nothing fires twice.

An ``email`` job (``engine.notify.mailer``) is composed in one short transaction, sent with no transaction
open, and marked done in a second one; a failed send takes the same retry-with-backoff path as any
failed job. A ``webhook`` job (``engine.notify.webhooks``) takes the same path: built in a transaction,
POSTed outside any, done on a 2xx answer; it gives up after ``webhooks.MAX_ATTEMPTS``. A ``migration``
job moves a confirmed migration's items a batch per run; the ``recurrence`` job compares items with the ones
closed before them a batch per run (``engine.measures.recurrence_scans``). With ``mail`` set, notifications
the worker's own jobs create (deadline escalations) enqueue e-mail too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.items import migrations, notifications, workflow
from engine.measures import recurrence_scans
from engine.notify import mailer, webhooks
from engine.store.config import MailSettings
from engine.store.db import transaction
from engine.store.models import Job, utcnow

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=1)


def backoff(attempts: int) -> dt.timedelta:
    """2, 4, 8 … seconds, at most ``MAX_BACKOFF`` (the exponent is capped: no overflow after many failures)."""
    return min(dt.timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


@dataclass
class Worker:
    sessions: sessionmaker[Session]
    name: str
    lease: dt.timedelta = dt.timedelta(seconds=60)
    batch: int = 10
    # Called after each job that ran: (job id, item id, what fired). The CLI prints it.
    on_done: Callable[[int, int | None, list[str]], None] | None = None
    # SMTP settings for email jobs; None: this worker sends no e-mail (email jobs are retried later).
    mail: MailSettings | None = None
    # ``Settings.recurrence_months``: the months the recurrence job compares items over.
    recurrence_months: int = 12

    def claim(self) -> list[int]:
        now = utcnow()
        with transaction(self.sessions) as session:
            due = (
                select(Job)
                .where(Job.due_at <= now, or_(Job.locked_until.is_(None), Job.locked_until < now))
                .order_by(Job.due_at, Job.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            jobs = list(session.scalars(due))
            for job in jobs:
                job.locked_by = self.name
                job.locked_until = now + self.lease
                job.attempts += 1
            return [job.id for job in jobs]

    def run(self, job_id: int) -> None:
        try:
            with transaction(self.sessions) as session:
                if self.mail is not None:
                    session.info[notifications.MAIL_FLAG] = True
                job = self._leased(session, job_id)
                if job is None:
                    return
                item_id = job.item_id
                send, fired = self._work(session, job)
                if send is None:
                    self._done(job)
            if send is not None:
                send()  # outside any transaction: a slow SMTP server or receiver never holds a lock
                with transaction(self.sessions) as session:
                    job = self._leased(session, job_id)
                    if job is None:
                        log.warning("job %s was sent after its lease ran out", job_id)
                        return
                    self._done(job)
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._retry_later(job_id, exc)
            return
        if self.on_done is not None:
            self.on_done(job_id, item_id, fired)

    def _work(self, session: Session, job: Job) -> tuple[Callable[[], None] | None, list[str]]:
        """Do the job's work in ``session``: what to send afterwards (e-mail, webhook), and the timers that fired."""
        if job.kind == mailer.EMAIL_JOB:
            message = mailer.compose(session, job.payload, self.mail)
            return (None if message is None or self.mail is None else partial(mailer.send, self.mail, message)), []
        if job.kind == webhooks.WEBHOOK_JOB:
            delivery = webhooks.prepare(session, job.payload)
            return (None if delivery is None else delivery.send), []
        if job.kind == workflow.TIMER_JOB and job.item_id is not None:
            return None, workflow.fire_timers(session, job.item_id)
        if job.kind == migrations.MIGRATION_JOB and job.payload is not None:
            self._next_batch(session, job)
        if job.kind == recurrence_scans.RECURRENCE_JOB:
            self._compare_batch(session, job)
        return None, []

    def _compare_batch(self, session: Session, job: Job) -> None:
        """Items compared a batch per run; the job rests once none waits, unless woken since it was claimed.

        The job's row is written after the batch: from the first write to the commit it is locked, and a
        transaction adding an item waits for it at its commit (``recurrence_scans.wake``)."""
        more = recurrence_scans.run_batch(session, self.recurrence_months)
        job.attempts = 0
        if more:
            job.due_at = utcnow()
        else:
            # Only if its due time is still the one it ran for: a transaction that added items meanwhile moved it.
            session.execute(update(Job).where(Job.id == job.id, Job.due_at == job.due_at).values(due_at=None))

    @staticmethod
    def _next_batch(session: Session, job: Job) -> None:
        """A migration moves a batch per run; the job stays due until every item had its turn."""
        follow = migrations.run_batch(session, dict(job.payload or {}))
        job.attempts = 0
        if follow is None:
            job.due_at = None
        else:
            job.payload, job.due_at = follow, utcnow()

    def _leased(self, session: Session, job_id: int) -> Job | None:
        """The job, while our lease holds; None when it ran out and another worker took the job."""
        job = session.get(Job, job_id)
        return job if job is not None and job.locked_by == self.name else None

    @staticmethod
    def _done(job: Job) -> None:
        job.locked_by = job.locked_until = job.last_error = None
        if job.kind in (mailer.EMAIL_JOB, webhooks.WEBHOOK_JOB):
            job.due_at = None  # sent (or nothing to send); the row stays as the record

    def _retry_later(self, job_id: int, exc: Exception) -> None:
        """A failed job waits longer after each attempt; the workflow is never blocked by it."""
        with transaction(self.sessions) as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.last_error = f"{type(exc).__name__}: {exc}"
                job.due_at = None if webhooks.gives_up(job) else utcnow() + backoff(job.attempts)
                job.locked_by = job.locked_until = None

    def run_pending(self) -> int:
        """Claim and run one batch of due jobs; how many were claimed."""
        claimed = self.claim()
        for job_id in claimed:
            self.run(job_id)
        return len(claimed)

    def due_count(self) -> int:
        with transaction(self.sessions) as session:
            return session.scalar(select(func.count()).select_from(Job).where(Job.due_at <= utcnow())) or 0

    def run_until(self, stop: threading.Event, interval: float, until_idle: bool = False) -> None:
        """Work until ``stop`` is set (or, with ``until_idle``, until no job is due any more)."""
        with transaction(self.sessions) as session:
            recurrence_scans.requeue(session, self.recurrence_months)  # as this worker compares them
        while not stop.is_set():
            if self.run_pending():
                continue
            if until_idle and not self.due_count():
                return
            stop.wait(interval)  # nothing claimable now: due jobs are leased by others, or none is due
