"""Earlier alike items (曾整改过) found once by the worker and kept: readers are shown exactly what looking now would
show them; an item that changes, and the items that may have found it, are compared again; the job rests only
when no item waits."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines.worker import Worker
from engine.identity import identity
from engine.items import corrections
from engine.measures import recurrence, recurrence_scans
from engine.store.db import transaction
from engine.store.models import Item, Job, RecurrenceMatch, RecurrenceScan
from tests.conftest import People
from tests.measures_ledger import Spec, build, closed_rows

READERS = ("approver", "works_manager", "manager", "outsider")


def compare_all(sessions: sessionmaker[Session], months: int = 12) -> None:
    more = True
    while more:
        with transaction(sessions) as session:
            more = recurrence_scans.run_batch(session, months)


def shown(session: Session, username: str, item_id: int, months: int = 12) -> list[tuple[int, str]]:
    reader, item = identity.user_by_username(session, username), session.get_one(Item, item_id)
    return [(e.item.id, e.why) for e in recurrence_scans.earlier(session, reader, item, months)]


def looked_up(session: Session, username: str, item_id: int, months: int = 12) -> list[tuple[int, str]]:
    reader, item = identity.user_by_username(session, username), session.get_one(Item, item_id)
    found = recurrence.live(session, reader, [item], months, recurrence.method(session))
    return [(e.item.id, e.why) for e in found.get(item.id, [])]


def test_compared_items_show_each_reader_what_looking_now_would(
    sessions: sessionmaker[Session], people: People
) -> None:
    ids = build(sessions)
    lamp, canteen, _queue, lamp_again, dishes, _archive, _lamp_next_year = ids
    compare_all(sessions)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(RecurrenceScan)) == len(ids)
        kept = {(m.item_id, m.earlier_id) for m in session.scalars(select(RecurrenceMatch))}
        assert kept == {(lamp_again, lamp), (dishes, canteen)}
        for username in READERS:
            for item_id in ids:
                for months in (1, 12):
                    assert shown(session, username, item_id, months) == looked_up(session, username, item_id, months)
        assert shown(session, "approver", lamp_again) == [(lamp, recurrence.SIMILAR_TITLE)]
        assert shown(session, "manager", dishes) == [(canteen, recurrence.SAME_UNIT_CATEGORY)]
        # The office's manager may not see the works unit's items: not its lamp either.
        assert shown(session, "manager", lamp_again) == []


def test_an_item_whose_title_is_corrected_is_compared_again(sessions: sessionmaker[Session], people: People) -> None:
    ids = build(sessions)
    lamp, archive = ids[0], ids[5]
    compare_all(sessions)
    with transaction(sessions) as session:
        admin = identity.user_by_username(session, "admin")
        fix = corrections.Correction(reason="标题写错了", title="东门路灯又不亮")
        corrections.correct(session, admin, archive, fix, "Asia/Shanghai")
    with transaction(sessions) as session:
        assert session.get(RecurrenceScan, archive) is None  # not as it was compared
        assert session.scalars(select(Job.due_at).where(Job.kind == recurrence_scans.RECURRENCE_JOB)).one()
        assert shown(session, "approver", archive) == [(lamp, recurrence.SIMILAR_TITLE)]
    compare_all(sessions)
    with transaction(sessions) as session:
        assert session.get(RecurrenceScan, archive) is not None
        assert shown(session, "approver", archive) == [(lamp, recurrence.SIMILAR_TITLE)]


def test_a_closed_item_changed_later_is_compared_again_by_the_items_raised_after_it(
    sessions: sessionmaker[Session], people: People
) -> None:
    """A ledger import may rewrite a closed item's title: the items raised after it no longer find it."""
    ids = build(sessions)
    lamp, canteen, _queue, lamp_again, dishes, archive, lamp_next_year = ids
    compare_all(sessions)
    with transaction(sessions) as session:
        session.get_one(Item, lamp).title = "会议室空调漏水"
    with transaction(sessions) as session:
        stale = set(session.scalars(select(Item.id).where(~Item.id.in_(select(RecurrenceScan.item_id)))))
        # Itself, and those raised in the twelve months after it closed; not the one raised a year later.
        assert stale == {lamp, lamp_again, dishes, archive} and lamp_next_year not in stale
        assert shown(session, "approver", lamp_again) == []
        assert shown(session, "approver", dishes) == [(canteen, recurrence.SAME_UNIT_CATEGORY)]
    compare_all(sessions)
    with transaction(sessions) as session:
        assert shown(session, "approver", lamp_again) == []


def test_a_reader_who_may_see_few_of_many_alike_items_is_shown_what_looking_now_would(
    sessions: sessionmaker[Session], people: People
) -> None:
    """More alike items than are kept, most of them another unit's: the works unit still sees its own lamp."""
    ids = build(sessions)
    lamp, lamp_again = ids[0], ids[3]
    with transaction(sessions) as session:
        known = session.get_one(Item, lamp)
        office = identity.user_by_username(session, "manager").department_id
        closed = dt.datetime(2026, 2, 20, tzinfo=dt.UTC)  # after the lamp closed: the latest, and as near
        titles = [f"东门路灯不亮{n}" for n in range(recurrence_scans.KEPT + 5)]
        rows = [
            {**row, "closed_at": closed + dt.timedelta(hours=n)}
            for n, row in enumerate(closed_rows(known, closed, titles, department_id=office, category="市政设施"))
        ]
        session.execute(insert(Item), rows)
    compare_all(sessions)
    with transaction(sessions) as session:
        scan = session.get_one(RecurrenceScan, lamp_again)
        assert scan.truncated  # more were found than kept
        for username in READERS:
            assert shown(session, username, lamp_again) == looked_up(session, username, lamp_again)
        assert shown(session, "works_manager", lamp_again) == [(lamp, recurrence.SIMILAR_TITLE)]
        assert len(shown(session, "approver", lamp_again)) == recurrence.SHOWN


def job_due(session: Session) -> dt.datetime | None:
    return session.scalars(select(Job.due_at).where(Job.kind == recurrence_scans.RECURRENCE_JOB)).one()


@pytest.mark.parametrize("months", [12, 1])
def test_the_worker_compares_every_item_and_rests_until_an_item_is_added(
    sessions: sessionmaker[Session], people: People, months: int
) -> None:
    ids = build(sessions)
    worker = Worker(sessions, "w", recurrence_months=months)
    worker.run_until(threading.Event(), 0, until_idle=True)
    with transaction(sessions) as session:
        compared = session.execute(select(RecurrenceScan.item_id, RecurrenceScan.months)).all()
        assert sorted(compared) == sorted((item_id, months) for item_id in ids)
        assert job_due(session) is None
        identity.add_department(session, "parks", "园林科")  # no item changed: it rests
    with transaction(sessions) as session:
        assert job_due(session) is None
    (added,) = build(sessions, [Spec("东门路灯还是不亮", "works", None, "2026-03-20 09:00")])
    with transaction(sessions) as session:
        assert job_due(session) is not None
    worker.run_until(threading.Event(), 0, until_idle=True)
    with transaction(sessions) as session:
        assert session.get_one(RecurrenceScan, added).months == months
        assert job_due(session) is None
        assert shown(session, "approver", added, months) == looked_up(session, "approver", added, months)
