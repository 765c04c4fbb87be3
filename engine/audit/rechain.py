"""Re-chain history hashed with plain SHA-256 (before revision 0003) under the audit key, page by page.

Only what verifies under the old scheme is re-chained: an event or a link that was already broken
keeps its stored hashes, so it stays reported after the upgrade (re-chaining never launders tampering).
Every item is sealed over its head. What was removed before the upgrade, with no trace, cannot be seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, String, Table, Text, bindparam, cast, select, type_coerce, update

from engine.audit import audit
from engine.store.models import AuditAnchor, HistoryEvent, HistoryPrune, Item

PAGE = 500
# The tables as they are at revision 0003, which runs this.
_events: Table = HistoryEvent.__table__  # type: ignore[assignment]
_items: Table = Item.__table__  # type: ignore[assignment]
_anchors: Table = AuditAnchor.__table__  # type: ignore[assignment]
_prunes: Table = HistoryPrune.__table__  # type: ignore[assignment]


@dataclass
class Rechained:
    items: int = 0
    events: int = 0
    anchors: int = 0
    # Events and links that did not verify under SHA-256 either, left as they were (still reported): the first few.
    kept_broken: list[str] = field(default_factory=list)
    broken: int = 0

    def keep(self, what: str) -> None:
        self.broken += 1
        if len(self.kept_broken) < 20:
            self.kept_broken.append(what)


def _verifies(row: audit.Stored, prev: str) -> bool:
    try:
        return row.prev_hash == prev and audit.event_hash(None, row) == row.hash
    except (TypeError, ValueError):
        return False


def _chain(key: bytes, rows: Iterable[audit.Stored], start: str, done: Rechained) -> tuple[list[dict[str, Any]], str]:
    """New (prev_hash, hash) of one item's events in order; returns them and the new head hash."""
    changes, old_prev, new_prev = [], start, start
    for row in rows:
        if _verifies(row, old_prev):
            new_hash = audit.event_hash(key, row._replace(prev_hash=new_prev))
            changes.append({"item": row.item_id, "s": row.seq, "p": new_prev, "h": new_hash, "old": row.hash})
        else:
            done.keep(f"item {row.item_id} event {row.seq}")
            new_hash = row.hash
        old_prev, new_prev = row.hash, new_hash
    return changes, new_prev


def _page(connection: Connection, key: bytes, after: int, done: Rechained) -> int | None:
    items = connection.execute(
        select(_items.c.id, _items.c.status, _items.c.version)
        .where(_items.c.id > after)
        .order_by(_items.c.id)
        .limit(PAGE)
    ).all()
    if not items:
        return None
    ids = [row.id for row in items]
    pruned = {
        row[0]: (row[1], row[2])
        for row in connection.execute(
            select(_prunes.c.item_id, _prunes.c.through_seq, _prunes.c.head_hash).where(_prunes.c.item_id.in_(ids))
        )
    }
    columns: list[Any] = [_events.c[name] for name in audit.Stored._fields]
    columns[2], columns[8] = type_coerce(_events.c.at, String), cast(_events.c.data, Text)
    rows = connection.execute(
        select(*columns)
        .where(_events.c.item_id >= ids[0], _events.c.item_id <= ids[-1])
        .order_by(_events.c.item_id, _events.c.seq)
    ).all()
    by_item: dict[int, list[audit.Stored]] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(audit.Stored(*row))
    changes, seals, firsts = [], [], []
    for item in items:
        through, start = pruned.get(item.id, (0, audit.GENESIS))
        item_changes, head = _chain(key, by_item.get(item.id, []), start, done)
        changes += item_changes
        last_seq = by_item[item.id][-1].seq if item.id in by_item else through
        if item_changes and item.id not in pruned and item_changes[0]["s"] == 1:
            firsts.append({"item": item.id, "f": item_changes[0]["h"], "old": item_changes[0]["old"]})
        if item.id in by_item or item.id in pruned:
            seals.append(
                {"item": item.id, "seal": audit.seal(key, item.id, (last_seq, head), item.status, item.version)}
            )
    if changes:
        connection.execute(
            update(_events)
            .where(_events.c.item_id == bindparam("item"), _events.c.seq == bindparam("s"))
            .values(prev_hash=bindparam("p"), hash=bindparam("h")),
            changes,
        )
    if firsts:
        connection.execute(
            # Only a link that anchored the event as it was: a link altered before stays altered.
            update(_anchors)
            .where(_anchors.c.item_id == bindparam("item"), _anchors.c.first_hash == bindparam("old"))
            .values(first_hash=bindparam("f")),
            firsts,
        )
    if seals:
        connection.execute(
            update(_items).where(_items.c.id == bindparam("item")).values(history_seal=bindparam("seal")), seals
        )
    done.items += len(seals)
    done.events += len(changes)
    return ids[-1]


def _anchor_chain(connection: Connection, key: bytes, done: Rechained) -> None:
    """Re-link the global chain over the (updated) first hashes; a link broken before stays as it was."""
    after, old_prev, new_prev = 0, audit.GENESIS, audit.GENESIS
    while True:
        links = connection.execute(
            select(_anchors.c.id, _anchors.c.item_id, _anchors.c.first_hash, _anchors.c.prev_hash, _anchors.c.hash)
            .where(_anchors.c.id > after)
            .order_by(_anchors.c.id)
            .limit(PAGE)
        ).all()
        if not links:
            return
        changes = []
        for link in links:
            # The old link hashed the old first hash, which re-chaining replaced: check the link itself.
            new_hash = audit.anchor_hash(key, link.item_id, link.first_hash, new_prev)
            if link.prev_hash == old_prev:
                changes.append({"i": link.id, "p": new_prev, "h": new_hash})
            else:
                done.keep(f"audit chain link of item {link.item_id}")
                new_hash = link.hash
            old_prev, new_prev = link.hash, new_hash
        connection.execute(
            update(_anchors)
            .where(_anchors.c.id == bindparam("i"))
            .values(prev_hash=bindparam("p"), hash=bindparam("h")),
            changes,
        )
        done.anchors += len(changes)
        after = links[-1].id


def rechain(connection: Connection, key: bytes) -> Rechained:
    done = Rechained()
    after: int | None = 0
    while after is not None:
        after = _page(connection, key, after, done)
    _anchor_chain(connection, key, done)
    return done
