"""A 100,000-item office's ledger on PostgreSQL: each page, sort and search reads through an index.

Asserted on the plans PostgreSQL picks (EXPLAIN) over a few thousand items with fresh statistics: no page
reads every item to show twenty (``Seq Scan on item``), whatever the sort; the search's ILIKE on title or
description can go through the trigram indexes (migration 0021).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Select, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import items
from engine.store.db import transaction
from engine.store.models import Department, Item, ProcessDefinition
from tests.conftest import People

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ITEMS = 6000
ON = dt.date(2026, 11, 30)


def plan(session: Session, query: Select[tuple[Item]]) -> str:
    compiled = query.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
    found = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    return "\n".join(row[0] for row in found)


@pytest.fixture
def office(sessions: sessionmaker[Session], people: People) -> None:
    with transaction(sessions) as session:
        office = session.scalars(select(Department.id).where(Department.code == "office")).one()
        definition = session.scalars(select(ProcessDefinition.id)).first()
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        rows = [
            {
                "title": f"{'路灯井盖台账公示窗口排队食堂卫生档案漏水'[n % 17 :][:5]}问题{n}",
                "description": f"第{n}项 现场检查发现",
                "department_id": office,
                "deadline": None if n % 20 == 0 else (start + dt.timedelta(days=n % 400)).date(),
                "ongoing": n % 20 == 0,
                "status": "closed" if n % 3 else "owner",
                "status_label": "已销号" if n % 3 else "责任人整改中",
                "definition_id": definition,
                "created_at": start + dt.timedelta(hours=n),
                "updated_at": start + dt.timedelta(hours=n, minutes=n % 60),
                "closed_at": start + dt.timedelta(hours=n + 48) if n % 3 else None,
                "version": 1,
            }
            for n in range(ITEMS)
        ]
        session.execute(insert(Item), rows)
        session.execute(text("ANALYZE item"))


@pytest.mark.parametrize("sort", [f"{way}{name}" for name in items.SORTS for way in ("", "-")])
def test_every_sort_of_a_page_reads_an_index_not_every_item(
    sessions: sessionmaker[Session], office: None, sort: str
) -> None:
    with transaction(sessions) as session:
        auditor = identity.user_by_username(session, "auditor")
        flt = items.ItemFilter(sort=sort)
        found = plan(session, items._ordered(items._filtered(auditor, flt, ON), sort).limit(20).offset(40))
    assert "Seq Scan on item" not in found, found
    assert "Index" in found, found


def test_the_search_can_read_the_trigram_indexes(sessions: sessionmaker[Session], office: None) -> None:
    """Over a few thousand items the planner may rightly read them all; what matters is that the indexes can
    serve the search's ILIKE at all (plain btree indexes could not). Asked to find rows through index
    conditions only (no table scan, no full index scan), it must still find a plan that does not read them all."""
    with transaction(sessions) as session:
        auditor = identity.user_by_username(session, "auditor")
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        found = plan(session, items._filtered(auditor, items.ItemFilter(q="食堂卫生"), ON))
    assert "ix_item_title_trgm" in found and "ix_item_description_trgm" in found, found
    assert "Seq Scan on item" not in found, found
