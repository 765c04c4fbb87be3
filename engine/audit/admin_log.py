"""The admin log: denied actions and administrative changes, append-only, readable by auditors.

Actions: ``denied`` (a 403; target ``METHOD /path``), ``login.failed``, ``login.locked`` (target the
username), ``user.create``, ``user.update``, ``user.roles``, ``user.password`` (target the username),
``token.create``, ``token.revoke`` (target the token id), ``department.create`` (its code),
``process.deploy``, ``process.default``, ``process.default_cleared``, ``process.retire`` and
``process.reinstate`` (``key vN``), ``item.withdraw`` (``item N``, by an administrator or a diagram's
withdrawal message), ``message.undelivered`` (a message nothing took; target ``item N``, or ``processes``
for a starting message), ``webhook.create`` and ``webhook.delete`` (``webhook N``), ``measure.propose``,
``measure.link``, ``measure.document``, ``measure.adopt`` and ``measure.repeal`` (``measure N``). The actor is a
username, ``cli:<OS user>`` for the command line, or None when nobody is known (a failed login).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store.clock import day_start
from engine.store.models import AdminLogEntry


def record(
    session: Session,
    actor: str | None,
    action: str,
    target: str | None = None,
    remote_addr: str | None = None,
    **detail: Any,
) -> AdminLogEntry:
    """Add one entry in the caller's transaction: it lands together with the change it describes."""
    entry = AdminLogEntry(actor=actor, action=action, target=target, remote_addr=remote_addr, detail=detail)
    session.add(entry)
    return entry


@dataclass(frozen=True)
class LogFilter:
    actor: str | None = None
    action: str | None = None
    since: dt.date | None = None  # office dates, both included
    until: dt.date | None = None
    page: int = 1
    per_page: int = 50


def entries(session: Session, flt: LogFilter, timezone: str) -> tuple[list[AdminLogEntry], int]:
    """One page of entries matching ``flt``, newest first, and how many match in all."""
    query = select(AdminLogEntry)
    if flt.actor:
        query = query.where(AdminLogEntry.actor == flt.actor)
    if flt.action:
        query = query.where(AdminLogEntry.action == flt.action)
    if flt.since:
        query = query.where(AdminLogEntry.at >= day_start(flt.since, timezone))
    if flt.until:
        query = query.where(AdminLogEntry.at < day_start(flt.until + dt.timedelta(days=1), timezone))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(AdminLogEntry.id.desc()).offset((flt.page - 1) * flt.per_page).limit(flt.per_page)
    return list(session.scalars(page)), total
