"""Tamper-evident history: every event is chained to the one before it, every item to a global chain.

An event's ``hash`` is SHA-256 over its canonical JSON (item, seq, time, actor, action, task, statuses,
data) and the previous event's hash (``prev_hash``; zeros for an item's first event). Each item's
first event is also linked into one global chain of ``AuditAnchor`` rows, so deleting a whole item,
events and all, breaks something that remains. ``verify`` recomputes everything and says exactly
which event of which item is wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.store.models import AuditAnchor, HistoryEvent, HistoryPrune

GENESIS = "0" * 64


def _digest(fields: dict[str, Any], prev_hash: str) -> str:
    canonical = json.dumps({**fields, "prev": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def event_hash(event: HistoryEvent) -> str:
    return _digest(
        {
            "item": event.item_id,
            "seq": event.seq,
            "at": event.at.isoformat(timespec="microseconds"),
            "actor": event.actor,
            "action": event.action,
            "task": event.task,
            "status_from": event.status_from,
            "status_to": event.status_to,
            "data": event.data,
        },
        event.prev_hash,
    )


def anchor_hash(anchor: AuditAnchor) -> str:
    return _digest({"item": anchor.item_id, "first": anchor.first_hash}, anchor.prev_hash)


def anchor(session: Session, first: HistoryEvent) -> None:
    """Link an item's first event into the global chain (retrying when another link won the race)."""
    for _attempt in range(50):
        last = session.scalar(select(AuditAnchor.hash).order_by(AuditAnchor.id.desc()).limit(1))
        link = AuditAnchor(item_id=first.item_id, first_hash=first.hash, prev_hash=last or GENESIS, hash="")
        link.hash = anchor_hash(link)
        try:
            with session.begin_nested():
                session.add(link)
        except IntegrityError:
            continue
        return
    raise RuntimeError("could not extend the audit chain: too many concurrent item creations")


@dataclass
class Report:
    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, item_id: int, seq: int | None, reason: str) -> None:
        self.problems.append({"item_id": item_id, "seq": seq, "reason": reason})


def verify_chain(
    report: Report, item_id: int, events: list[HistoryEvent], after: tuple[int, str] = (0, GENESIS)
) -> str | None:
    """Check one item's chain, which continues ``after`` (seq, hash); returns its first event's hash as stored."""
    start, prev = after
    for expected_seq, event in enumerate(events, start=start + 1):
        report.checked += 1
        if event.seq != expected_seq:
            report.problem(item_id, expected_seq, f"event {expected_seq} is missing (found seq {event.seq} next)")
        if event.prev_hash != prev:
            report.problem(item_id, event.seq, "does not follow the event before it (deleted or reordered)")
        if event_hash(event) != event.hash:
            report.problem(item_id, event.seq, "altered: its content does not match its hash")
        prev = event.hash
    return events[0].hash if events else None


def _check_first(report: Report, link: AuditAnchor, firsts: dict[int, str | None]) -> None:
    if link.item_id not in firsts:
        report.problem(link.item_id, None, "the item's whole history is missing (deleted)")
    elif firsts[link.item_id] != link.first_hash:
        report.problem(link.item_id, 1, "the first event differs from the one anchored")


def verify(session: Session) -> Report:
    report = Report()
    by_item: dict[int, list[HistoryEvent]] = {}
    for event in session.scalars(select(HistoryEvent).order_by(HistoryEvent.item_id, HistoryEvent.seq)):
        by_item.setdefault(event.item_id, []).append(event)
    # Items whose older history was removed under the retention policy: what remains continues from there.
    pruned = {row.item_id: (row.through_seq, row.head_hash) for row in session.scalars(select(HistoryPrune))}
    firsts = {
        item_id: verify_chain(report, item_id, events, pruned.get(item_id, (0, GENESIS)))
        for item_id, events in by_item.items()
    }

    prev = GENESIS
    anchored = set()
    for link in session.scalars(select(AuditAnchor).order_by(AuditAnchor.id)):
        anchored.add(link.item_id)
        if link.prev_hash != prev or anchor_hash(link) != link.hash:
            report.problem(link.item_id, None, "the global audit chain is broken here")
        # A pruned item's first event is in its retention archive, which ``retention.verify_archive`` checks.
        if link.item_id not in pruned:
            _check_first(report, link, firsts)
        prev = link.hash
    for item_id in sorted(set(firsts) - anchored):
        report.problem(item_id, 1, "history not anchored in the global chain")
    return report


def verify_item(session: Session, item_id: int) -> Report:
    """One item's chain and its link in the global chain (what an auditor sees on the item's page)."""
    report = Report()
    events = list(
        session.scalars(select(HistoryEvent).where(HistoryEvent.item_id == item_id).order_by(HistoryEvent.seq))
    )
    pruned = session.scalar(select(HistoryPrune).where(HistoryPrune.item_id == item_id))
    after = (pruned.through_seq, pruned.head_hash) if pruned else (0, GENESIS)
    first = verify_chain(report, item_id, events, after)
    link = session.scalar(select(AuditAnchor).where(AuditAnchor.item_id == item_id))
    if link is None:
        report.problem(item_id, 1, "history not anchored in the global chain")
    elif anchor_hash(link) != link.hash:
        report.problem(item_id, None, "the global audit chain is broken here")
    elif pruned is None:
        _check_first(report, link, {item_id: first} if events else {})
    return report
