"""History retention: explicit configuration, an explicit command, an archive, and proof of what went.

Nothing is ever removed unless ``RECTIFLOW_HISTORY_RETENTION_DAYS`` is set *and* someone runs
``rectiflow audit prune``. Only items closed longer ago than the retention period lose their events.
The removed events are written first to a gzip JSON-lines archive; the database keeps, per item, the
last removed event's seq and hash (``HistoryPrune``), so ``audit.verify`` still passes on what remains
and ``verify_archive`` proves an archive is exactly the history that was removed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, delete, distinct, func, select, text
from sqlalchemy.orm import Session

from engine.audit import admin_log, audit, history, keys
from engine.store import clock
from engine.store.errors import InvalidInput
from engine.store.models import AuditAnchor, HistoryEvent, HistoryPrune, Item, utcnow

ARCHIVE_FORMAT = "rectiflow-history-archive"
# Archives written before revision 0003 carry no "hash" and were chained with plain SHA-256.
KEYED = "hmac-sha256"
_TRIGGER = "history_event_append_only"
_BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    items: int
    events: int
    archive: Path | None
    cutoff: dt.datetime


def _due(cutoff: dt.datetime) -> Select[int]:
    """Items closed before the cutoff whose history is still here."""
    return select(Item.id).where(Item.closed_at < cutoff, Item.id.not_in(select(HistoryPrune.item_id)))


@contextmanager
def _history_deletable(session: Session) -> Iterator[None]:
    """Lift PostgreSQL's append-only trigger for this transaction only (ALTER TABLE is transactional)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text(f"ALTER TABLE history_event DISABLE TRIGGER {_TRIGGER}"))
    yield
    if postgres:
        session.execute(text(f"ALTER TABLE history_event ENABLE TRIGGER {_TRIGGER}"))


def _configured(retention_days: int | None) -> int:
    if retention_days is None:
        raise InvalidInput(
            "未配置历史保留期限，历史永久保留 History retention is not configured "
            "(RECTIFLOW_HISTORY_RETENTION_DAYS): the history is kept forever"
        )
    return retention_days


def prune(
    session: Session,
    *,
    retention_days: int | None,
    today: dt.date,
    timezone: str,
    archive_dir: Path,
    actor: str,
    dry_run: bool = False,
) -> PruneResult:
    """Archive, then remove, the history of items closed before the retention period (in the caller's transaction)."""
    retention_days = _configured(retention_days)
    cutoff = clock.day_start(today - dt.timedelta(days=retention_days), timezone)
    due = _due(cutoff)
    if dry_run:
        counted = select(func.count(HistoryEvent.id), func.count(distinct(HistoryEvent.item_id)))
        event_count, item_count = session.execute(counted.where(HistoryEvent.item_id.in_(due))).one()
        return PruneResult(item_count, event_count, None, cutoff)
    query = select(HistoryEvent).where(HistoryEvent.item_id.in_(due)).order_by(HistoryEvent.item_id, HistoryEvent.seq)
    events = session.scalars(query.execution_options(yield_per=1000))
    archive, heads = _write_archive(archive_dir, events, retention_days, cutoff)
    if not heads:
        archive.unlink()
        return PruneResult(0, 0, None, cutoff)
    # Delete exactly what was archived (an item closing meanwhile waits for the next run).
    item_ids = sorted(heads)
    with _history_deletable(session):
        for start in range(0, len(item_ids), _BATCH):
            session.execute(delete(HistoryEvent).where(HistoryEvent.item_id.in_(item_ids[start : start + _BATCH])))
    session.add_all(
        HistoryPrune(item_id=item, through_seq=seq, head_hash=head, retention_days=retention_days, archive=archive.name)
        for item, (seq, head) in heads.items()
    )
    removed = sum(seq for seq, _ in heads.values())
    admin_log.record(
        session,
        actor,
        "history.prune",
        target=archive.name,
        items=len(heads),
        events=removed,
        retention_days=retention_days,
        cutoff=cutoff.isoformat(),
    )
    return PruneResult(len(heads), removed, archive, cutoff)


def _write_archive(
    archive_dir: Path, events: Iterable[HistoryEvent], retention_days: int, cutoff: dt.datetime
) -> tuple[Path, dict[int, tuple[int, str]]]:
    """Write the events to a new archive; returns it and each item's last archived (seq, hash)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    path = archive_dir / f"history-{utcnow():%Y%m%dT%H%M%S%fZ}.jsonl.gz"
    header = {"format": ARCHIVE_FORMAT, "hash": KEYED, "retention_days": retention_days, "cutoff": cutoff.isoformat()}
    heads: dict[int, tuple[int, str]] = {}
    # Written and closed before the database deletes anything: a failure leaves the history intact.
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for event in events:
            row = {**history.as_record(event), "at": event.at.isoformat(timespec="microseconds")}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            heads[event.item_id] = (event.seq, event.hash)
    return path, heads


def read_archive(path: Path) -> tuple[bool, list[audit.Stored]]:
    """Whether the archive's chains are keyed, and its events."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            header = json.loads(source.readline())
            if not isinstance(header, dict) or header.get("format") != ARCHIVE_FORMAT:
                raise InvalidInput(f"不是历史归档文件 {path.name} is not a history archive")
            rows = [json.loads(line) for line in source]
        return header.get("hash") == KEYED, [audit.Stored(**row) for row in rows]
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"无法读取归档 Cannot read {path.name}: {exc}") from exc


def verify_archive(session: Session, path: Path) -> audit.Report:
    """Check an archive against the database: each item's chain, its anchor and its recorded head."""
    report = audit.Report()
    keyed, events = read_archive(path)
    key = keys.of(session) if keyed else None
    by_item: dict[int, list[audit.Stored]] = {}
    for event in events:
        by_item.setdefault(event.item_id, []).append(event)
    for item_id, chain_events in by_item.items():
        chain = audit.verify_events(report, key, item_id, chain_events)
        anchor = session.scalar(select(AuditAnchor.first_hash).where(AuditAnchor.item_id == item_id))
        prune_row = session.scalar(select(HistoryPrune).where(HistoryPrune.item_id == item_id))
        if anchor != chain.first:
            report.problem(item_id, 1, "the archived first event differs from the one anchored")
        if prune_row is None or (prune_row.through_seq, prune_row.head_hash) != (chain.seq, chain.prev):
            report.problem(item_id, chain.seq, "the archive does not end where the removed history ended")
    return report
