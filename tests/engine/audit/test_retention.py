"""Retention: nothing goes unless configured and asked for; what goes is archived and still provable."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit, history, retention
from engine.identity import identity
from engine.items import items, workflow
from engine.store.config import Settings
from engine.store.db import transaction
from engine.store.errors import InvalidInput
from engine.store.models import AdminLogEntry, Item
from tests.conftest import People
from web.cli import main

TZ = "Asia/Shanghai"
LIFECYCLE = [
    ("manager", {"measures": "m"}),
    ("manager", {"owner": "owner"}),
    ("owner", {"result": "r"}),
    ("approver", {"decision": "approve"}),
]


def raise_item(sessions: sessionmaker[Session], title: str, close: bool) -> int:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item_id = workflow.create_item(session, reporter, workflow.NewItem(title=title, department="office"), TZ).id
    for username, data in LIFECYCLE if close else LIFECYCLE[:1]:
        with transaction(sessions) as session:
            (task,) = items.live_tasks(session, session.get_one(Item, item_id))
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)
    return item_id


def prune(
    sessions: sessionmaker[Session], archive_dir: Path, today: str, dry_run: bool = False
) -> retention.PruneResult:
    with transaction(sessions) as session:
        return retention.prune(
            session,
            retention_days=30,
            today=dt.date.fromisoformat(today),
            timezone=TZ,
            archive_dir=archive_dir,
            actor="cli:tester",
            dry_run=dry_run,
        )


def event_counts(sessions: sessionmaker[Session], *item_ids: int) -> list[int]:
    with transaction(sessions) as session:
        return [len(history.events(session, item_id)) for item_id in item_ids]


@pytest.fixture
def ledger(sessions: sessionmaker[Session], people: People) -> tuple[int, int, int]:
    """An item closed on 1 October, one closed on 20 November, and one still open."""
    with time_machine.travel("2026-10-01T02:00:00+00:00", tick=False):
        old = raise_item(sessions, "十月办结", close=True)
        still_open = raise_item(sessions, "仍在整改", close=False)
    with time_machine.travel("2026-11-20T02:00:00+00:00", tick=False):
        recent = raise_item(sessions, "十一月办结", close=True)
    return old, recent, still_open


def test_without_configuration_nothing_is_removed(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="kept forever"), transaction(sessions) as session:
        retention.prune(
            session, retention_days=None, today=dt.date(2027, 1, 1), timezone=TZ, archive_dir=tmp_path, actor="x"
        )
    assert event_counts(sessions, *ledger) == [6, 6, 3]
    assert not list(tmp_path.iterdir())


def test_only_items_closed_before_the_period_lose_their_history_and_everything_still_verifies(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path
) -> None:
    old, recent, still_open = ledger
    assert (prune(sessions, tmp_path, "2026-11-25", dry_run=True).events, event_counts(sessions, old)) == (6, [6])

    result = prune(sessions, tmp_path, "2026-11-25")

    assert (result.items, result.events) == (1, 6)
    assert event_counts(sessions, old, recent, still_open) == [0, 6, 3]
    with transaction(sessions) as session:
        assert audit.verify(session).ok
        assert result.archive is not None
        archived = retention.verify_archive(session, result.archive)
        assert (archived.ok, archived.checked) == (True, 6)
        (entry,) = session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == "history.prune"))
        assert (entry.actor, entry.detail["items"], entry.detail["retention_days"]) == ("cli:tester", 1, 30)
    # A second run finds nothing more to do.
    assert prune(sessions, tmp_path, "2026-11-25").items == 0


def test_a_pruned_item_that_records_again_continues_its_chain(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path
) -> None:
    old, _, _ = ledger
    prune(sessions, tmp_path, "2026-11-25")
    with transaction(sessions) as session:
        event = history.record_change(session, session.get_one(Item, old), actor="auditor", action="note", data={})
        assert event.seq == 7
    with transaction(sessions) as session:
        assert audit.verify(session).ok


def test_an_edited_archive_is_detected(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path
) -> None:
    archive = prune(sessions, tmp_path, "2026-11-25").archive
    assert archive is not None
    with gzip.open(archive, "rt", encoding="utf-8") as source:
        lines = source.readlines()
    lines[3] = lines[3].replace('"manager"', '"someone_else"')
    with gzip.open(archive, "wt", encoding="utf-8") as out:
        out.writelines(lines)
    with transaction(sessions) as session:
        report = retention.verify_archive(session, archive)
    assert [(p["seq"], p["reason"]) for p in report.problems] == [(3, "altered: its content does not match its hash")]


def test_the_append_only_trigger_is_back_after_pruning(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path, db_engine: Engine
) -> None:
    prune(sessions, tmp_path, "2026-11-25")
    with db_engine.connect() as conn:
        if db_engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text("DELETE FROM history_event"))
        else:
            # SQLite has no such trigger: the hash chains are its protection.
            assert conn.execute(text("DELETE FROM history_event")).rowcount == 9
            conn.rollback()


def test_the_item_history_says_where_pruned_events_went(
    sessions: sessionmaker[Session], ledger: tuple[int, int, int], tmp_path: Path, client: FlaskClient, people: People
) -> None:
    old, recent, _ = ledger
    archive = prune(sessions, tmp_path, "2026-11-25").archive
    assert archive is not None
    body = client.get(f"/api/v1/items/{old}/history", headers=people.auth("approver")).get_json()
    assert body["events"] == []
    assert (body["pruned"]["through_seq"], body["pruned"]["archive"]) == (6, archive.name)
    assert client.get(f"/api/v1/items/{recent}/history", headers=people.auth("approver")).get_json()["pruned"] is None


def test_the_command_refuses_without_configuration_and_prunes_with_it(
    database_url: str, ledger: tuple[int, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("RECTIFLOW_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()
    refused = runner.invoke(main, ["audit", "prune"])
    assert refused.exit_code == 1
    assert "kept forever" in refused.output

    monkeypatch.setenv("RECTIFLOW_HISTORY_RETENTION_DAYS", "30")
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        done = runner.invoke(main, ["audit", "prune"])
    assert done.exit_code == 0, done.output
    assert "removed 6 events of 1 items" in done.output
    (archive,) = (tmp_path / "archive").iterdir()
    checked = runner.invoke(main, ["audit", "verify-archive", str(archive)])
    assert (checked.exit_code, checked.output.splitlines()[-1]) == (0, "OK: 6 events checked, 0 problems")


def test_retention_must_be_a_number_of_days() -> None:
    with pytest.raises(ValueError, match="number of days"):
        Settings.from_env({"RECTIFLOW_HISTORY_RETENTION_DAYS": "a year"})
    assert Settings.from_env({"RECTIFLOW_HISTORY_RETENTION_DAYS": "forever"}).history_retention_days is None
    assert Settings.from_env({}).history_retention_days is None
    assert Settings.from_env({"RECTIFLOW_HISTORY_RETENTION_DAYS": "1825"}).history_retention_days == 1825
