"""Recurring problems (此问题曾整改过): a new item that looks like an item closed in the months before it.

An earlier item matches a newer one when it was closed (not withdrawn) within ``months`` before the newer
one was raised, and either has the same unit and the same category, or a similar title:

- on PostgreSQL with pg_trgm (migration 0018 creates it where the role may): the two titles' trigram
  similarity is at least :data:`TRIGRAM_THRESHOLD` (pg_trgm's own default), in SQL, served by the GiST
  trigram index on ``item.title`` (migration 0021);
- elsewhere (SQLite, or PostgreSQL without the extension): the titles' character bigrams overlap with a
  Dice coefficient of at least :data:`OVERLAP_THRESHOLD`, in Python, over at most :data:`CANDIDATES` of the
  most recently closed items (bigrams, not words: Chinese titles have no spaces to split on).

Each way of comparing (:data:`WAYS`) ranks what it finds: the nearest titles first, else the latest closed first.
An item names at most :data:`SHOWN` earlier items, latest closed first, chosen among the first :data:`SHOWN` of
each way. Read for a person, only the items they may see take part. The months are
``Settings.recurrence_months``. Pages read what ``recurrence_scans`` found and kept; this module finds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, func, literal, select, text, true
from sqlalchemy.orm import Session, aliased

from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.store.models import Item, User

TRIGRAM, OVERLAP = "trigram", "overlap"
TRIGRAM_THRESHOLD = 0.3
OVERLAP_THRESHOLD = 0.5
CANDIDATES = 2000
# Earlier items named per item, the latest closed first: a title like thousands of closed ones names the few
# most recent (the ledger's badge, the item page, the export), not all of them.
SHOWN = 5
SAME_UNIT_CATEGORY, SIMILAR_TITLE = "same_unit_category", "similar_title"
# The ways of comparing of each method; on SQLite one way finds both kinds of alike items, latest closed first.
WAYS = {TRIGRAM: (SAME_UNIT_CATEGORY, SIMILAR_TITLE), OVERLAP: (OVERLAP,)}
# Each way's finds of an item, in its order (its first ``limit``): {item id: {way: [earlier items' ids]}}.
Found = dict[int, dict[str, list[int]]]


@dataclass(frozen=True)
class Earlier:
    item: Item
    why: str  # SAME_UNIT_CATEGORY or SIMILAR_TITLE


def method(session: Session) -> str:
    """How titles are compared on this database: ``trigram`` where pg_trgm is installed, else ``overlap``."""
    if session.get_bind().dialect.name != "postgresql":
        return OVERLAP
    installed = session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    return TRIGRAM if installed else OVERLAP


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same instant ``months`` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def _bigrams(title: str) -> set[str]:
    kept = "".join(char for char in title.casefold() if char.isalnum())
    return {kept[i : i + 2] for i in range(len(kept) - 1)} or ({kept} if kept else set())


def overlap(a: str, b: str) -> float:
    """Dice coefficient of the two titles' character bigrams (letters and digits only, any case)."""
    return _dice(_bigrams(a), _bigrams(b))


def _dice(first: set[str], second: set[str]) -> float:
    if not first or not second:
        return 0.0
    return 2 * len(first & second) / (len(first) + len(second))


def trigram_query(user: User | None, ids: Sequence[int], months: int, how: str, limit: int = SHOWN) -> Select[Any]:
    """Rows (one of ``ids``, an earlier item's id, when it closed, the titles' distance): up to ``limit`` items
    closed in the ``months`` before it was raised that are alike by ``how``, each item's looked up on its own
    (LATERAL): a page costs a few rows an item, however many closed items look like it. ``user`` None: every
    item takes part.

    - ``SAME_UNIT_CATEGORY``: the latest closed of its unit and category (distance 0).
    - ``SIMILAR_TITLE``: the nearest titles by pg_trgm's distance (``<->``, 1 - similarity), in the order the
      GiST trigram index hands them out (migrations 0021, 0022), kept if similar enough. Not ``%`` in the
      WHERE: the planner would take every title sharing a trigram with this one (a common word: thousands) and
      sort them.
    """
    newer = aliased(Item)
    within = and_(
        Item.id != newer.id,
        Item.closed_at < newer.created_at,
        Item.closed_at >= newer.created_at - func.make_interval(0, months),
        *_closed(user),
    )
    if how == SAME_UNIT_CATEGORY:
        same = (newer.category.is_not(None), Item.category == newer.category, Item.department_id == newer.department_id)
        latest = select(Item.id.label("earlier_id"), Item.closed_at, literal(0.0).label("distance"))
        found = latest.where(within, *same).order_by(Item.closed_at.desc(), Item.id.desc()).limit(limit).lateral()
        joined: ColumnElement[bool] = true()
    else:
        distance = Item.title.op("<->", return_type=Float)(newer.title)
        nearest = select(Item.id.label("earlier_id"), Item.closed_at, distance.label("distance")).where(within)
        found = nearest.order_by(distance).limit(limit).lateral()
        joined = found.c.distance <= 1 - TRIGRAM_THRESHOLD
    return (
        select(newer.id, found.c.earlier_id, found.c.closed_at, found.c.distance)
        .select_from(newer)
        .join(found, joined)
        .where(newer.id.in_(ids))
    )


def _closed(user: User | None) -> list[ColumnElement[bool]]:
    closed = [Item.closed_at.is_not(None), counted_clause()]
    return closed if user is None else [*closed, visible_clause(user)]


def ways(session: Session, user: User | None, new: Sequence[Item], months: int, how: str, limit: int) -> Found:
    """What each way of ``how`` finds for each item of ``new``: its first ``limit``, in the way's order (only the
    items that found any). ``user`` None: every item takes part (what ``recurrence_scans`` keeps)."""
    if not new:
        return {}
    if how == TRIGRAM:
        return _by_trigram(session, user, new, months, limit)
    return _by_overlap(session, user, new, months, limit)


def named(found: Found) -> set[int]:
    """The ids of the earlier items :func:`chosen` may name: each way's first :data:`SHOWN`."""
    return {old_id for by_way in found.values() for way in by_way.values() for old_id in way[:SHOWN]}


def chosen(new: Item, found: dict[str, list[int]], olds: Mapping[int, Item]) -> list[Earlier]:
    """The earlier items ``new`` names: the latest closed :data:`SHOWN` among each way's first :data:`SHOWN`
    (``olds``: those items by id)."""
    alike = {olds[old_id] for way in found.values() for old_id in way[:SHOWN]}
    latest = sorted(alike, key=lambda old: (old.closed_at, old.id), reverse=True)[:SHOWN]
    return [Earlier(old, _why(old, new)) for old in latest]


def live(session: Session, user: User, new: Sequence[Item], months: int, how: str) -> dict[int, list[Earlier]]:
    """The earlier items each of ``new`` names for ``user``, found now (only those that came back)."""
    found = ways(session, user, new, months, how, SHOWN)
    wanted = named(found)
    olds = {old.id: old for old in session.scalars(select(Item).where(Item.id.in_(wanted)))} if wanted else {}
    by_id = {item.id: item for item in new}
    return {item_id: chosen(by_id[item_id], by_way, olds) for item_id, by_way in found.items()}


def _why(old: Item, new: Item) -> str:
    same = new.category is not None and (old.category, old.department_id) == (new.category, new.department_id)
    return SAME_UNIT_CATEGORY if same else SIMILAR_TITLE


def _by_trigram(session: Session, user: User | None, new: Sequence[Item], months: int, limit: int) -> Found:
    """Two index-served queries (same unit and category; similar title): an OR would defeat the indexes."""
    ids = [item.id for item in new]
    found: Found = {}
    for how in WAYS[TRIGRAM]:
        rows = session.execute(trigram_query(user, ids, months, how, limit)).all()
        if how == SAME_UNIT_CATEGORY:
            ranked = sorted(rows, key=lambda row: (row.closed_at, row.earlier_id), reverse=True)
        else:
            ranked = sorted(rows, key=lambda row: (row.distance, row.earlier_id))
        for row in ranked:
            found.setdefault(row[0], {}).setdefault(how, []).append(row.earlier_id)
    return found


def _by_overlap(session: Session, user: User | None, new: Sequence[Item], months: int, limit: int) -> Found:
    """One query for the candidates (the most recently closed, bounded), then titles compared in Python."""
    start = months_before(min(item.created_at for item in new), months)
    query = (
        select(Item)
        .where(*_closed(user), Item.closed_at >= start, Item.closed_at < max(item.created_at for item in new))
        .order_by(Item.closed_at.desc(), Item.id.desc())
        .limit(CANDIDATES)
    )
    candidates = list(session.scalars(query))
    grams = {old.id: _bigrams(old.title) for old in candidates}  # each title cut once, not once per pair
    found: Found = {}
    for item in new:
        window, mine = months_before(item.created_at, months), _bigrams(item.title)
        for old in candidates:
            if old.id == item.id or old.closed_at is None or not window <= old.closed_at < item.created_at:
                continue
            if _why(old, item) == SAME_UNIT_CATEGORY or _dice(grams[old.id], mine) >= OVERLAP_THRESHOLD:
                alike = found.setdefault(item.id, {}).setdefault(OVERLAP, [])
                alike.append(old.id)
                if len(alike) == limit:  # the candidates come latest closed first
                    break
    return found
