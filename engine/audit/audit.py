"""Tamper-evident history: keyed hash chains per item, a global chain of items, and a seal on each item's head.

An event's ``hash`` is HMAC-SHA-256, under the key of ``engine.audit.keys``, over its canonical
JSON (item, seq, time, actor, action, task, statuses, data) and the previous event's hash
(``prev_hash``; zeros for an item's first event). Without the key nobody can recompute a chain
after editing it. Each item's first event is linked into one global chain of ``AuditAnchor`` rows,
so deleting a whole item shows; each item row carries a ``history_seal``, an HMAC over its last
event (seq, hash) and its status and version, kept current in the transaction that changes them
(``engine.audit.history``), so removing the latest events, or the item's status moving without an
event, shows too. Given the file store, it also checks that every evidence file's stored bytes
still hash to the SHA-256 its row (and its upload's event) names: a file swapped or missing shows.

``verify`` walks item by item, a page of items and a stream of their events at a time, so its
memory does not grow with the history; a malformed row (not JSON, NULLs, wrong types) is a
reported problem, never an exception. What it cannot see: the whole database put back to an
older copy that was itself consistent (keep ``audit verify`` outputs and backups elsewhere).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Select, String, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from engine.audit import keys
from engine.evidence.storage import FileStore
from engine.store.models import Attachment, AuditAnchor, HistoryEvent, HistoryPrune, Item

GENESIS = "0" * 64
PAGE = 500
MAX_SHOWN = 1000


def digest(key: bytes | None, fields: dict[str, Any], prev_hash: str) -> str:
    """HMAC-SHA-256 of the canonical JSON; ``key=None``: plain SHA-256 (archives from before revision 0003)."""
    canonical = json.dumps({**fields, "prev": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if key is None:
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return hmac.digest(key, canonical.encode("utf-8"), "sha256").hex()


class Stored(NamedTuple):
    """One event as it is stored, its values not trusted to have their column's type."""

    item_id: Any
    seq: Any
    at: Any
    actor: Any
    action: Any
    task: Any
    status_from: Any
    status_to: Any
    data: Any
    prev_hash: Any
    hash: Any

    @classmethod
    def of(cls, event: HistoryEvent) -> Stored:
        return cls(*(getattr(event, name) for name in cls._fields))


def _moment(value: Any) -> str:
    """The canonical time: SQLite hands back text, PostgreSQL a datetime; anything else is refused."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ValueError(f"its time is not a time ({value!r})")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _data(value: Any) -> Any:
    """JSON text read raw (so that text which is not JSON is found here, not by the column type)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("its data is not JSON") from None
    return value


def event_hash(key: bytes | None, event: Stored | HistoryEvent) -> str:
    row = event if isinstance(event, Stored) else Stored.of(event)
    fields = {
        "item": row.item_id,
        "seq": row.seq,
        "at": _moment(row.at),
        "actor": row.actor,
        "action": row.action,
        "task": row.task,
        "status_from": row.status_from,
        "status_to": row.status_to,
        "data": _data(row.data),
    }
    return digest(key, fields, row.prev_hash)


def anchor_hash(key: bytes | None, item_id: Any, first_hash: Any, prev_hash: Any) -> str:
    return digest(key, {"item": item_id, "first": first_hash}, prev_hash)


def seal(key: bytes, item_id: int, head: tuple[int, str], status: str, version: int) -> str:
    """What vouches for an item's latest event and the state it left the item in."""
    return digest(key, {"item": item_id, "seq": head[0], "status": status, "version": version}, head[1])


# The PostgreSQL advisory lock (transaction-level) one transaction at a time holds to extend the global chain.
ANCHOR_LOCK = 0x52464C57_43484E  # "RFLW" "CHN"


def anchor(session: Session, firsts: Sequence[HistoryEvent]) -> None:
    """Link the first events of new items into the global chain, in order, as their transaction commits.

    On PostgreSQL the transaction takes ``ANCHOR_LOCK`` first (held until it ends, a moment later), so
    concurrent creations queue for the next link instead of racing for it: racing, 28 creating at once ran
    out of retries and failed. SQLite has one writer at a time, and this transaction has written already.
    """
    key = keys.of(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ANCHOR_LOCK)))
    prev = session.scalar(select(AuditAnchor.hash).order_by(AuditAnchor.id.desc()).limit(1)) or GENESIS
    for first in firsts:
        link = AuditAnchor(item_id=first.item_id, first_hash=first.hash, prev_hash=prev)
        link.hash = prev = anchor_hash(key, first.item_id, first.hash, prev)
        session.add(link)  # inserted in the order added: ids follow the chain, as verification walks it


@dataclass
class Report:
    """What verification found: at most ``MAX_SHOWN`` problems listed, all of them counted."""

    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    files_checked: int = 0
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, item_id: Any, seq: Any, reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_SHOWN:
            # A seq that is not a number (a tampered row) is named in the reason, never passed on as one.
            self.problems.append({"item_id": _number(item_id), "seq": _number(seq), "reason": reason})


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Chain:
    """One item's chain, walked an event at a time; it continues ``(seq, prev)`` (an earlier, pruned part)."""

    report: Report
    key: bytes | None
    item_id: Any
    seq: int = 0
    prev: Any = GENESIS
    first: Any = None
    status: Any = None
    events: int = 0

    def step(self, row: Stored) -> None:
        self.report.checked += 1
        self.events += 1
        expected = self.seq + 1
        if row.seq != expected:
            self.report.problem(self.item_id, expected, f"event {expected} is missing (found seq {row.seq!r} next)")
        if row.prev_hash != self.prev:
            self.report.problem(self.item_id, row.seq, "does not follow the event before it (deleted or reordered)")
        try:
            altered = event_hash(self.key, row) != row.hash
        except (TypeError, ValueError) as exc:
            self.report.problem(self.item_id, row.seq, f"unreadable: {exc}")
        else:
            if altered:
                self.report.problem(self.item_id, row.seq, "altered: its content does not match its hash")
        self.seq = row.seq if isinstance(row.seq, int) else expected
        self.prev = row.hash
        self.first = self.first if self.events > 1 else row.hash
        self.status = row.status_to


def verify_events(report: Report, key: bytes | None, item_id: int, events: Iterable[Stored]) -> Chain:
    """Check one whole chain from its first event (a retention archive)."""
    chain = Chain(report, key, item_id)
    for row in events:
        chain.step(row)
    return chain


class _Head(NamedTuple):
    id: int
    status: Any
    version: Any
    history_seal: Any


def _events(ids: Sequence[int]) -> Select[Any]:
    # Raw time and data: a value the column type cannot read must become a problem, not an exception.
    columns = [getattr(HistoryEvent, name) for name in Stored._fields]
    columns[2] = type_coerce(HistoryEvent.at, String)
    columns[8] = cast(HistoryEvent.data, Text)
    return (
        select(*columns)
        .where(HistoryEvent.item_id >= ids[0], HistoryEvent.item_id <= ids[-1])
        .order_by(HistoryEvent.item_id, HistoryEvent.seq)
    )


def _check_head(report: Report, key: bytes, item: _Head, chain: Chain, pruned: bool) -> None:
    """The item row against its last event: truncation, or a status or version changed without one."""
    if chain.events == 0 and not pruned:
        report.problem(item.id, None, "the item's history is missing (deleted)")
        return
    where = chain.seq if chain.events else None
    try:
        sealed = seal(key, item.id, (chain.seq, chain.prev), item.status, item.version) == item.history_seal
    except (TypeError, ValueError):
        sealed = False
    if chain.events and item.status != chain.status:
        report.problem(item.id, where, f"the item says {item.status!r}, its last event leaves it {chain.status!r}")
    if not sealed:
        report.problem(
            item.id,
            where,
            "the item does not match its seal: later events were removed, or the item was changed outside Rectiflow",
        )


def _walk_page(session: Session, key: bytes, report: Report, items: list[_Head]) -> None:
    ids = [item.id for item in items]
    prune_rows = select(HistoryPrune.item_id, HistoryPrune.through_seq, HistoryPrune.head_hash)
    pruned = {row[0]: (row[1], row[2]) for row in session.execute(prune_rows.where(HistoryPrune.item_id.in_(ids)))}
    firsts = select(AuditAnchor.item_id, AuditAnchor.first_hash).where(AuditAnchor.item_id.in_(ids))
    anchored = {row[0]: row[1] for row in session.execute(firsts)}
    by_id = {item.id: item for item in items}
    chains = {i: Chain(report, key, i, *pruned.get(i, (0, GENESIS))) for i in ids}
    for row in session.execute(_events(ids).execution_options(yield_per=1000)):
        chain = chains.get(row.item_id)
        if chain is not None:
            chain.step(Stored(*row))
    for item_id, chain in chains.items():
        first = anchored.get(item_id)
        if first is None and (chain.events or item_id in pruned):
            report.problem(item_id, 1, "history not anchored in the global chain")
        elif first is not None and item_id not in pruned and chain.events and first != chain.first:
            report.problem(item_id, 1, "the first event differs from the one anchored")
        _check_head(report, key, by_id[item_id], chain, item_id in pruned)


def _walk_items(session: Session, key: bytes, report: Report, only: int | None = None) -> None:
    after = 0
    while True:
        query = select(Item.id, Item.status, Item.version, Item.history_seal).where(Item.id > after)
        if only is not None:
            query = query.where(Item.id == only)
        page = [_Head(*row) for row in session.execute(query.order_by(Item.id).limit(PAGE))]
        if not page:
            return
        # Plain rows, not ORM objects: the session's identity map does not grow with the history.
        _walk_page(session, key, report, page)
        after = page[-1].id


def _link_holds(key: bytes, item_id: Any, first: Any, prev: Any, stored: Any) -> bool:
    try:
        return anchor_hash(key, item_id, first, prev) == stored
    except (TypeError, ValueError):  # a value of the wrong type: not what was linked
        return False


def _walk_anchors(session: Session, key: bytes, report: Report) -> None:
    """The global chain, link by link; a link whose item row is gone is a deleted item."""
    query = (
        select(AuditAnchor.item_id, AuditAnchor.first_hash, AuditAnchor.prev_hash, AuditAnchor.hash, Item.id)
        .outerjoin(Item, Item.id == AuditAnchor.item_id)
        .order_by(AuditAnchor.id)
    )
    prev = GENESIS
    for item_id, first, link_prev, link_hash, live in session.execute(query.execution_options(yield_per=1000)):
        if link_prev != prev or not _link_holds(key, item_id, first, link_prev, link_hash):
            report.problem(item_id, None, "the global audit chain is broken here")
        if live is None:
            report.problem(item_id, None, "the item's whole history is missing (deleted)")
        prev = link_hash


def _walk_files(session: Session, files: FileStore, report: Report) -> None:
    """Every evidence file, removed ones too, against its SHA-256; the same bytes are read once."""
    found: dict[str, str | None] = {}
    query = select(Attachment.id, Attachment.item_id, Attachment.sha256, Attachment.filename).order_by(Attachment.id)
    for attachment_id, item_id, sha256, filename in session.execute(query.execution_options(yield_per=1000)):
        report.files_checked += 1
        if sha256 not in found:
            try:
                found[sha256] = files.digest(sha256)
            except ValueError:  # not a SHA-256 at all: the row was altered
                found[sha256] = ""
        named = f"evidence file {attachment_id} {filename!r} (sha256 {str(sha256)[:12]}…)"
        if found[sha256] is None:
            report.problem(item_id, None, f"{named} is missing from the file store")
        elif found[sha256] != sha256:
            report.problem(item_id, None, f"{named}: the stored bytes do not match it (swapped or altered)")


def verify(session: Session, files: FileStore | None = None) -> Report:
    """Every chain, the global chain and every item's seal, in memory that does not grow with the history;
    with ``files``, every evidence file's bytes too (the product's callers always pass it)."""
    key = keys.of(session)
    report = Report()
    _walk_anchors(session, key, report)
    _walk_items(session, key, report)
    if files is not None:
        _walk_files(session, files, report)
    return report


def verify_item(session: Session, item_id: int) -> Report:
    """One item's chain, its link in the global chain and its seal (what an auditor sees on the item's page)."""
    key = keys.of(session)
    report = Report()
    _walk_items(session, key, report, only=item_id)
    link = session.execute(
        select(AuditAnchor.first_hash, AuditAnchor.prev_hash, AuditAnchor.hash).where(AuditAnchor.item_id == item_id)
    ).first()
    if link is not None and not _link_holds(key, item_id, *link):
        report.problem(item_id, None, "the global audit chain is broken here")
    return report
