"""The demo's items were registered over the past three months, so its first reports look like an office at work."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.ledger import demo, ledger
from engine.reports import reports
from engine.store.db import transaction
from engine.store.models import Item

TZ = "Asia/Shanghai"


def test_the_demo_dates_its_items_over_three_months_up_to_today(sessions: sessionmaker[Session]) -> None:
    # Any day: the dates follow the office's today (here 25 January, in the third 旬).
    today = dt.date(2027, 1, 25)
    with time_machine.travel(dt.datetime(2027, 1, 25, 10, tzinfo=ZoneInfo(TZ)), tick=False):
        with transaction(sessions) as session:
            assert demo.load(session, TZ).items == 40
        with transaction(sessions) as session:
            registered = sorted(ledger.registered_on(item, TZ) for item in session.scalars(select(Item)))
            auditor = identity.user_by_username(session, "auditor")
            this_xun = reports.figures(session, auditor, reports.containing("dispatch", today), TZ).total
            closed = session.scalar(select(func.count()).where(Item.status == "closed"))
            severities = {
                row[0]: row[1] for row in session.execute(select(Item.severity, func.count()).group_by(Item.severity))
            }
    assert (registered[0], registered[-1]) == (today - dt.timedelta(days=90), today - dt.timedelta(days=3))
    assert len(set(registered)) == 40  # spread out, not bunched on a few days
    assert severities == {"一般": 23, "较重": 9, "严重": 8}  # as the sample's 严重程度 column says
    # One item is new in this 旬; the other 39 were open when it began (the closed ones close today).
    assert (this_xun.raised, this_xun.open_at_start, this_xun.closed) == (1, 39, closed)
