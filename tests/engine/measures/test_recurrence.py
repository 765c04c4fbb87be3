"""Recurring problems on known data: pg_trgm on PostgreSQL where the migration could create it, and the
bigram overlap (SQLite's, and PostgreSQL's without the extension) giving the same answers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.measures import recurrence, recurrence_scans
from engine.store.db import transaction
from engine.store.models import Item
from tests.conftest import People
from tests.measures_ledger import build, closed_rows


def test_each_database_compares_titles_its_own_way(sessions: sessionmaker[Session], people: People) -> None:
    with transaction(sessions) as session:
        dialect = session.get_bind().dialect.name
        # The test server's role is a superuser: migration 0018 could create pg_trgm.
        assert recurrence.method(session) == ("trigram" if dialect == "postgresql" else "overlap")


@pytest.mark.parametrize("forced", [None, recurrence.OVERLAP], ids=["native", "overlap"])
def test_both_methods_find_the_same_earlier_items(
    sessions: sessionmaker[Session], people: People, forced: str | None
) -> None:
    """The database's own method (pg_trgm on PostgreSQL), and the fallback forced on either database."""
    ids = build(sessions)
    lamp, canteen, _queue, lamp_again, dishes, archive, lamp_next_year = ids
    with transaction(sessions) as session:
        how = forced or recurrence.method(session)
        approver = identity.user_by_username(session, "approver")

        def earlier(item_id: int, months: int = 12) -> list[tuple[int, str]]:
            item = session.get_one(Item, item_id)
            return [(e.item.id, e.why) for e in recurrence_scans.earlier(session, approver, item, months, how)]

        assert earlier(lamp_again) == [(lamp, recurrence.SIMILAR_TITLE)]
        assert earlier(dishes) == [(canteen, recurrence.SAME_UNIT_CATEGORY)]
        assert earlier(archive) == [] and earlier(lamp_next_year) == []
        # 东门路灯不亮 was closed 2026-02-10, 东门路灯不亮了 raised 2026-03-03: within one month, not within none.
        assert earlier(lamp_again, months=1) == [(lamp, recurrence.SIMILAR_TITLE)]
        new = [session.get_one(Item, item_id) for item_id in ids]
        assert recurrence_scans.came_back(session, approver, new, 12, how) == {lamp_again, dishes}


def test_the_overlap_of_titles() -> None:
    assert recurrence.overlap("东门路灯不亮", "东门路灯不亮了") == pytest.approx(0.909, abs=0.001)
    assert recurrence.overlap("Street lamp broken", "street LAMP broken!") == 1.0
    assert recurrence.overlap("档案室漏水", "食堂卫生差") == 0.0
    assert recurrence.overlap("", "路灯") == 0.0


def test_months_before_keeps_the_day_where_the_month_has_it() -> None:
    moment = dt.datetime(2026, 3, 31, 9, tzinfo=dt.UTC)
    assert recurrence.months_before(moment, 1) == dt.datetime(2026, 2, 28, 9, tzinfo=dt.UTC)
    assert recurrence.months_before(moment, 12) == dt.datetime(2025, 3, 31, 9, tzinfo=dt.UTC)
    assert recurrence.months_before(moment, 15) == dt.datetime(2024, 12, 31, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_similar_titles_are_looked_up_through_the_trigram_index(
    sessions: sessionmaker[Session], people: People
) -> None:
    """With thousands of closed items, a page's items are matched through the index on titles (migration
    0020), not by comparing each of them with every closed item."""
    ids = build(sessions)
    with transaction(sessions) as session:
        known = session.get_one(Item, ids[0])
        words = "路灯井盖台账公示窗口排队食堂卫生档案漏水停车收费绿化噪声"
        titles = (f"{words[n % 29 :][:6]}问题{n}" for n in range(5000))
        rows = closed_rows(known, dt.datetime(2026, 1, 5, tzinfo=dt.UTC), titles)
        session.execute(insert(Item), rows)
        session.execute(text("ANALYZE item"))
        approver = identity.user_by_username(session, "approver")
        query = recurrence.trigram_query(approver, ids, 12, recurrence.SIMILAR_TITLE)
        compiled = query.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
        found = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in found)
    assert "ix_item_title_trgm" in plan, plan
