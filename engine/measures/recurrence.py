"""Recurring problems (此问题曾整改过): a new item that looks like an item closed in the months before it.

An earlier item matches a newer one when it was closed (not withdrawn) within ``months`` before the newer
one was raised, and either has the same unit and the same category, or a similar title:

- on PostgreSQL with pg_trgm (migration 0018 creates it where the role may): the two titles' trigram
  similarity is at least :data:`TRIGRAM_THRESHOLD` (pg_trgm's own default), in SQL, served by the GiST
  trigram index on ``item.title`` (migration 0021);
- elsewhere (SQLite, or PostgreSQL without the extension): the titles' character bigrams overlap with a
  Dice coefficient of at least :data:`OVERLAP_THRESHOLD`, in Python, over at most :data:`CANDIDATES` of the
  most recently closed items (bigrams, not words: Chinese titles have no spaces to split on).

Both read only the items the reader may see, and name at most :data:`SHOWN` earlier items an item, latest
closed first (on PostgreSQL chosen among the nearest titles and the latest of the same unit and category;
elsewhere the latest alike). The months are ``Settings.recurrence_months``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Float, Select, and_, func, select, text, true
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


def trigram_query(user: User, ids: Sequence[int], months: int, how: str) -> Select[int, int]:
    """Pairs (one of ``ids``, an earlier item's id): up to ``SHOWN`` items closed in the ``months`` before it was
    raised that are alike by ``how``, each item's looked up on its own (LATERAL): a page costs a few rows an
    item, however many closed items look like it.

    - ``SAME_UNIT_CATEGORY``: the latest closed of its unit and category.
    - ``SIMILAR_TITLE``: the nearest titles by pg_trgm's distance (``<->``, 1 - similarity), in the order the
      GiST trigram index hands them out (migration 0021), kept if similar enough. Not ``%`` in the WHERE: the
      planner would take every title sharing a trigram with this one (a common word: thousands) and sort them.
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
        latest = (
            select(Item.id.label("earlier_id")).where(within, *same).order_by(Item.closed_at.desc(), Item.id.desc())
        )
        found = latest.limit(SHOWN).lateral()
        joined: ColumnElement[bool] = true()
    else:
        distance = Item.title.op("<->", return_type=Float)(newer.title)
        nearest = select(Item.id.label("earlier_id"), distance.label("distance")).where(within)
        found = nearest.order_by(distance).limit(SHOWN).lateral()
        joined = found.c.distance <= 1 - TRIGRAM_THRESHOLD
    return select(newer.id, found.c.earlier_id).select_from(newer).join(found, joined).where(newer.id.in_(ids))


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
    ids = [item.id for item in new]
    pairs = [
        pair
        for how in (SAME_UNIT_CATEGORY, SIMILAR_TITLE)
        for pair in session.execute(trigram_query(user, ids, months, how))
    ]
    olds = {old.id: old for old in session.scalars(select(Item).where(Item.id.in_({old_id for _, old_id in pairs})))}
    alike: dict[int, dict[int, Item]] = {}
    for new_id, old_id in pairs:
        alike.setdefault(new_id, {})[old_id] = olds[old_id]
    by_id = {item.id: item for item in new}
    return {
        new_id: [Earlier(old, _why(old, by_id[new_id])) for old in _latest(found.values())]
        for new_id, found in alike.items()
    }


def _latest(olds: Iterable[Item]) -> list[Item]:
    return sorted(olds, key=lambda old: (old.closed_at, old.id), reverse=True)[:SHOWN]


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
                if len(found[item.id]) == SHOWN:  # the candidates come latest closed first
                    break
    return found
