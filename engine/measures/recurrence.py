"""Recurring problems (此问题曾整改过): a new item that looks like an item closed in the months before it.

An earlier item matches a newer one when it was closed (not withdrawn) within ``months`` before the newer
one was raised, and either has the same unit and the same category, or a similar title:

- on PostgreSQL with pg_trgm (migration 0018 creates it where the role may): the two titles' trigram
  similarity is at least :data:`TRIGRAM_THRESHOLD` (pg_trgm's own default), in SQL, served by the trigram
  index on ``item.title`` (migration 0020);
- elsewhere (SQLite, or PostgreSQL without the extension): the titles' character bigrams overlap with a
  Dice coefficient of at least :data:`OVERLAP_THRESHOLD`, in Python, over at most :data:`CANDIDATES` of the
  most recently closed items (bigrams, not words: Chinese titles have no spaces to split on).

Both read only the items the reader may see. The months are ``Settings.recurrence_months``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select, text
from sqlalchemy.orm import Session, aliased

from engine.items.corrections import counted_clause
from engine.items.items import visible_clause
from engine.store.models import Item, User

TRIGRAM, OVERLAP = "trigram", "overlap"
TRIGRAM_THRESHOLD = 0.3
OVERLAP_THRESHOLD = 0.5
CANDIDATES = 2000
SAME_UNIT_CATEGORY, SIMILAR_TITLE = "same_unit_category", "similar_title"


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


def _alike(newer: Any, how: str) -> ColumnElement[bool]:
    """Of ``Item`` (the earlier one) against ``newer`` (an alias): the same unit and category, or a similar title.

    ``%`` is pg_trgm's similarity operator: unlike ``similarity(a, b) >= t`` it is served by the trigram index
    on ``item.title`` (migration 0020), so a page's items are matched without comparing every closed item.
    """
    if how == SAME_UNIT_CATEGORY:
        return and_(
            newer.category.is_not(None), Item.category == newer.category, Item.department_id == newer.department_id
        )
    return Item.title.op("%")(newer.title)


def trigram_query(user: User, ids: Sequence[int], months: int, how: str) -> Select[int, Item]:
    """The earlier items (closed in the ``months`` before each of ``ids`` was raised) that are alike by ``how``."""
    newer = aliased(Item)
    within = and_(
        Item.id != newer.id,
        Item.closed_at < newer.created_at,
        Item.closed_at >= newer.created_at - func.make_interval(0, months),
    )
    return select(newer.id, Item).join(Item, and_(within, _alike(newer, how))).where(newer.id.in_(ids), *_closed(user))


def _closed(user: User) -> list[ColumnElement[bool]]:
    return [Item.closed_at.is_not(None), visible_clause(user), counted_clause()]


def earlier(session: Session, user: User, item: Item, months: int, how: str | None = None) -> list[Earlier]:
    """The items closed in the ``months`` before ``item`` was raised that look like it, latest closed first."""
    found = _matches(session, user, [item], months, how or method(session))
    return found.get(item.id, [])


def came_back(session: Session, user: User, new: Sequence[Item], months: int, how: str | None = None) -> set[int]:
    """The ids of the items among ``new`` that look like an earlier closed item (see the module)."""
    return set(earlier_of(session, user, new, months, how))


def earlier_of(
    session: Session, user: User, new: Sequence[Item], months: int, how: str | None = None
) -> dict[int, list[Earlier]]:
    """:func:`earlier` of each item among ``new`` in one go (a page, an export batch): only those that came back."""
    return _matches(session, user, new, months, how or method(session))


def _matches(session: Session, user: User, new: Sequence[Item], months: int, how: str) -> dict[int, list[Earlier]]:
    if not new:
        return {}
    if how == TRIGRAM:
        return _by_trigram(session, user, new, months)
    return _by_overlap(session, user, new, months)


def _why(old: Item, new: Item) -> str:
    same = new.category is not None and (old.category, old.department_id) == (new.category, new.department_id)
    return SAME_UNIT_CATEGORY if same else SIMILAR_TITLE


def _by_trigram(session: Session, user: User, new: Sequence[Item], months: int) -> dict[int, list[Earlier]]:
    """Two index-served queries (same unit and category; similar title), merged: an OR would defeat the indexes."""
    # ``%`` compares with this setting, for this transaction only (safe behind PgBouncer's transaction pooling).
    session.execute(select(func.set_config("pg_trgm.similarity_threshold", str(TRIGRAM_THRESHOLD), True)))
    ids = [item.id for item in new]
    alike: dict[int, dict[int, Item]] = {}
    for how in (SAME_UNIT_CATEGORY, SIMILAR_TITLE):
        for new_id, old in session.execute(trigram_query(user, ids, months, how)):
            alike.setdefault(new_id, {})[old.id] = old
    by_id = {item.id: item for item in new}
    latest_first = {
        new_id: sorted(found.values(), key=lambda old: (old.closed_at, old.id), reverse=True)
        for new_id, found in alike.items()
    }
    return {new_id: [Earlier(old, _why(old, by_id[new_id])) for old in olds] for new_id, olds in latest_first.items()}


def _by_overlap(session: Session, user: User, new: Sequence[Item], months: int) -> dict[int, list[Earlier]]:
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
    found: dict[int, list[Earlier]] = {}
    for item in new:
        window, mine = months_before(item.created_at, months), _bigrams(item.title)
        for old in candidates:
            if old.id == item.id or old.closed_at is None or not window <= old.closed_at < item.created_at:
                continue
            why = _why(old, item)
            if why == SAME_UNIT_CATEGORY or _dice(grams[old.id], mine) >= OVERLAP_THRESHOLD:
                found.setdefault(item.id, []).append(Earlier(old, why))
    return found
