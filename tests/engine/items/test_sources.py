"""问题来源 are the office's own list: an administrator adds and takes off sources; items and imports follow it."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import sources, workflow
from engine.ledger import ledger
from engine.store.config import ImportLimits
from engine.store.db import transaction
from engine.store.errors import AlreadyExists, Forbidden, InvalidInput
from tests.conftest import People

TZ = "Asia/Shanghai"


def ledger_with_source(source: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["问题描述", "问题来源", "责任单位"])
    sheet.append(["学习制度不落实", source, "办公室"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def import_errors(session: Session, source: str) -> list[tuple[str, str | None, str | None]]:
    found = ledger.check(BytesIO(ledger_with_source(source)), ledger.known(session), ImportLimits())
    return [(error.column, error.value, error.accepted) for error in found.errors]


def raise_item(session: Session, source: str) -> None:
    reporter = identity.user_by_username(session, "reporter")
    workflow.create_item(session, reporter, workflow.NewItem(title="问题", department="office", source=source), TZ)


def test_a_source_an_admin_adds_is_accepted_and_one_taken_off_is_refused(
    sessions: sessionmaker[Session], people: People
) -> None:
    with transaction(sessions) as session:
        assert "巡察" in sources.active(session)  # a real source, out of the box
        assert import_errors(session, "巡察") == []
        (refused,) = import_errors(session, "信访")
        assert refused[:2] == ("问题来源", "信访") and "巡察" in (refused[2] or "")
        with pytest.raises(InvalidInput):
            raise_item(session, "信访")
    with transaction(sessions) as session:
        sources.add(session, identity.user_by_username(session, "admin"), " 信访 ")
    with transaction(sessions) as session:
        assert sources.active(session)[-1] == "信访"
        assert import_errors(session, "信访") == []
        raise_item(session, "信访")
        sources.deactivate(session, identity.user_by_username(session, "admin"), "巡察")
    with transaction(sessions) as session:
        assert "巡察" not in sources.active(session)
        assert [s.name for s in sources.listed(session) if not s.active] == ["巡察"]  # still listed, for old items
        assert import_errors(session, "巡察")[0][:2] == ("问题来源", "巡察")


def test_only_administrators_edit_the_list_and_each_source_is_listed_once(
    sessions: sessionmaker[Session], people: People
) -> None:
    with transaction(sessions) as session:
        with pytest.raises(Forbidden):
            sources.add(session, identity.user_by_username(session, "reporter"), "信访")
        admin = identity.user_by_username(session, "admin")
        with pytest.raises(AlreadyExists):
            sources.add(session, admin, "自查")
        with pytest.raises(InvalidInput):
            sources.add(session, admin, "  ")
