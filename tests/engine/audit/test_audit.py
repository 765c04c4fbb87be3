"""Tamper evidence: edits, deletions, reordering and a deleted item are each detected and located."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import audit
from engine.identity import identity
from engine.items import items, workflow
from engine.store.db import transaction
from engine.store.models import HistoryEvent, Item
from tests.conftest import People
from web.cli import main


def build(sessions: sessionmaker[Session], count: int = 2) -> list[int]:
    """Items with four events each: created, the deadline decision, measures defined, owner assigned."""
    ids = []
    for n in range(count):
        with transaction(sessions) as session:
            reporter, manager = (identity.user_by_username(session, name) for name in ("reporter", "manager"))
            item = workflow.create_item(
                session, reporter, workflow.NewItem(title=f"审计 {n}", department="office"), "UTC"
            )
            for data in ({"measures": "m"}, {"owner": "owner"}):
                (task,) = items.live_tasks(session, item)
                workflow.complete_task(session, manager, task.id, data)
            ids.append(item.id)
    return ids


@contextmanager
def tampering(db_engine: Engine) -> Iterator[Connection]:
    """A raw connection that may change the history (past PostgreSQL's append-only trigger)."""
    postgres = db_engine.dialect.name == "postgresql"
    with db_engine.begin() as conn:
        if postgres:
            conn.execute(text("ALTER TABLE history_event DISABLE TRIGGER history_event_append_only"))
        yield conn
        if postgres:
            conn.execute(text("ALTER TABLE history_event ENABLE TRIGGER history_event_append_only"))


def problems(sessions: sessionmaker[Session]) -> list[tuple[int, int | None, str]]:
    with transaction(sessions) as session:
        report = audit.verify(session)
    return [(p["item_id"], p["seq"], p["reason"]) for p in report.problems]


def test_an_untouched_history_verifies(sessions: sessionmaker[Session], people: People) -> None:
    build(sessions)
    with transaction(sessions) as session:
        report = audit.verify(session)
    assert (report.ok, report.checked) == (True, 8)


def test_an_edited_field_is_located(sessions: sessionmaker[Session], people: People, db_engine: Engine) -> None:
    first, _ = build(sessions)
    with tampering(db_engine) as conn:
        conn.execute(
            text("UPDATE history_event SET actor = 'someone_else' WHERE item_id = :i AND seq = 2"), {"i": first}
        )
    assert problems(sessions) == [(first, 2, "altered: its content does not match its hash")]


def test_a_deleted_event_is_located(sessions: sessionmaker[Session], people: People, db_engine: Engine) -> None:
    _, second = build(sessions)
    with tampering(db_engine) as conn:
        conn.execute(text("DELETE FROM history_event WHERE item_id = :i AND seq = 2"), {"i": second})
    found = problems(sessions)
    assert found[0][:2] == (second, 2)
    assert "missing" in found[0][2]
    assert {item for item, _, _ in found} == {second}


def test_two_reordered_events_are_located(sessions: sessionmaker[Session], people: People, db_engine: Engine) -> None:
    first, _ = build(sessions)
    with tampering(db_engine) as conn:
        # The last two events (measures defined, owner assigned) trade places.
        for old, new in ((3, 100), (4, 3), (100, 4)):
            conn.execute(
                text("UPDATE history_event SET seq = :n WHERE item_id = :i AND seq = :o"),
                {"n": new, "o": old, "i": first},
            )
    found = problems(sessions)
    assert {(item, seq) for item, seq, _ in found} == {(first, 3), (first, 4)}


def test_a_whole_deleted_item_is_detected(sessions: sessionmaker[Session], people: People, db_engine: Engine) -> None:
    _, second = build(sessions)
    with tampering(db_engine) as conn:
        for table in ("history_event", "task", "item_unit", "instance", "job", "notification"):
            conn.execute(text(f"DELETE FROM {table} WHERE item_id = :i"), {"i": second})
        conn.execute(text("DELETE FROM item WHERE id = :i"), {"i": second})
    assert problems(sessions) == [(second, None, "the item's whole history is missing (deleted)")]


def test_the_history_is_append_only_on_postgresql(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    build(sessions, 1)
    statements = ["UPDATE history_event SET actor = 'x'", "DELETE FROM history_event"]
    for statement in statements:
        with db_engine.connect() as conn:
            if db_engine.dialect.name == "postgresql":
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(text(statement))
            else:
                # SQLite, the embedded store, has no such trigger: the hash chains are its protection.
                conn.execute(text(statement))
                conn.rollback()
    assert problems(sessions) == []


def test_the_cli_reports_and_exits_1_on_a_problem(
    sessions: sessionmaker[Session], people: People, db_engine: Engine, database_url: str
) -> None:
    first, _ = build(sessions)
    runner = CliRunner(env={"RECTIFLOW_DATABASE_URL": database_url})
    ok = runner.invoke(main, ["audit", "verify"])
    assert (ok.exit_code, ok.output.splitlines()[-1]) == (0, "OK: 8 events checked, 0 problems")
    with tampering(db_engine) as conn:
        conn.execute(text("UPDATE history_event SET data = '{}' WHERE item_id = :i AND seq = 3"), {"i": first})
    bad = runner.invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1
    assert f"item {first} event 3: altered" in bad.output
    with transaction(sessions) as session:
        assert session.get(Item, first) is not None


LIFECYCLE = [
    ("manager", {"measures": "m"}),
    ("manager", {"owner": "owner"}),
    ("owner", {"result": "r"}),
    ("approver", {"decision": "approve"}),
]


def closed_item(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item_id = workflow.create_item(session, reporter, workflow.NewItem(title="办结", department="office"), "UTC").id
    for username, data in LIFECYCLE:
        with transaction(sessions) as session:
            (task,) = items.live_tasks(session, session.get_one(Item, item_id))
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)
    return item_id


def test_an_item_whose_closing_event_was_deleted_is_reported(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    build(sessions, 1)
    closed = closed_item(sessions)
    with transaction(sessions) as session:
        closing = session.scalars(
            select(HistoryEvent).where(HistoryEvent.item_id == closed).order_by(HistoryEvent.seq.desc()).limit(1)
        ).one()
        assert (closing.action, closing.status_to) == ("completed", "closed")
        last = closing.seq
    with tampering(db_engine) as conn:
        conn.execute(text("DELETE FROM history_event WHERE item_id = :i AND seq = :s"), {"i": closed, "s": last})
    found = problems(sessions)
    assert {(item, seq) for item, seq, _ in found} == {(closed, last - 1)}
    reasons = " | ".join(reason for _, _, reason in found)
    assert "its last event leaves it" in reasons
    assert "later events were removed" in reasons


def test_an_item_row_moved_without_an_event_is_reported(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    first, _ = build(sessions)
    with db_engine.begin() as conn:
        conn.execute(text("UPDATE item SET status = 'closed', version = version + 1 WHERE id = :i"), {"i": first})
    found = problems(sessions)
    assert {item for item, _, _ in found} == {first}
    assert any("the item says 'closed'" in reason for _, _, reason in found)


def plain_sha256(event: HistoryEvent, prev: str) -> str:
    """The unkeyed hash anyone with the database could compute (the scheme before the audit key)."""
    fields = {
        "item": event.item_id,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "task": event.task,
        "status_from": event.status_from,
        "status_to": event.status_to,
        "data": event.data,
        "prev": prev,
    }
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_an_edit_with_every_later_hash_recomputed_is_detected(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    first, _ = build(sessions)
    with transaction(sessions) as session:
        chain = list(
            session.scalars(select(HistoryEvent).where(HistoryEvent.item_id == first).order_by(HistoryEvent.seq))
        )
        session.expunge_all()
    chain[1].actor = "someone_else"
    prev = chain[0].hash
    with tampering(db_engine) as conn:
        for event in chain[1:]:
            event.prev_hash, event.hash = prev, plain_sha256(event, prev)
            conn.execute(
                text("UPDATE history_event SET actor = :a, prev_hash = :p, hash = :h WHERE id = :id"),
                {"a": event.actor, "p": event.prev_hash, "h": event.hash, "id": event.id},
            )
            prev = event.hash
    found = problems(sessions)
    assert (first, 2, "altered: its content does not match its hash") in found
    assert {item for item, _, _ in found} == {first}


def test_problems_are_listed_up_to_a_bound_and_all_counted(
    sessions: sessionmaker[Session], people: People, db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(sessions, 3)
    with tampering(db_engine) as conn:
        conn.execute(text("UPDATE history_event SET actor = 'x'"))
    monkeypatch.setattr(audit, "MAX_SHOWN", 4)
    with transaction(sessions) as session:
        report = audit.verify(session)
    assert (report.ok, report.problem_count, len(report.problems)) == (False, 12, 4)
