"""Many items raised at the same moment: every one is created and linked into the global chain, which verifies."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit
from engine.identity import identity
from engine.items import workflow
from engine.store.db import transaction
from engine.store.models import AuditAnchor, Item
from tests.conftest import People

# More than the retries the chain once allowed a lost race (50 would have needed more racers than this
# machine runs at once): what matters is that none fails and the chain is whole.
RACERS, EACH = 28, 3


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_items_raised_at_once_are_all_created_and_chained(sessions: sessionmaker[Session], people: People) -> None:
    start = threading.Barrier(RACERS)

    def raise_some(n: int) -> list[int]:
        start.wait(timeout=30)
        made = []
        for k in range(EACH):
            with transaction(sessions) as session:
                reporter = identity.user_by_username(session, "reporter")
                new = workflow.NewItem(title=f"同时登记 {n}-{k}", department="office")
                made.append(workflow.create_item(session, reporter, new, "UTC").id)
        return made

    with ThreadPoolExecutor(RACERS) as pool:
        created = [item_id for made in pool.map(raise_some, range(RACERS)) for item_id in made]

    assert len(set(created)) == RACERS * EACH
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == RACERS * EACH
        assert session.scalar(select(func.count()).select_from(AuditAnchor)) == RACERS * EACH
        report = audit.verify(session)
    assert report.ok, report.problems
