"""Backup and restore: a dump of one database restored into an empty one of the other kind keeps working."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.audit import admin_log, audit, backup
from engine.deadlines import extensions
from engine.identity import identity
from engine.items import notifications, progress, workflow
from engine.ledger import demo
from engine.store import migrate
from engine.store.db import Base, make_engine, make_session_factory, snapshot, transaction
from engine.store.errors import BackupRefused
from engine.store.models import HistoryEvent, Item, User
from tests.conftest import AUDIT_KEY, People, postgres_database
from tests.engine.audit.test_audit import build as audit_build
from tests.engine.items.test_long_history import step

TZ = "Asia/Shanghai"
KEY = AUDIT_KEY.encode()


@pytest.fixture
def other(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A new, empty database of the other kind (never migrated: the import does that)."""
    if database_url.startswith("sqlite"):
        with postgres_database() as url:
            engine = make_engine(url)
            yield engine
            engine.dispose()
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
        yield engine
        engine.dispose()


def build(sessions: sessionmaker[Session]) -> tuple[int, str, dict[str, str]]:
    """The demo ledger (40 items, joint tasks, closed ones), then one item through a busy stretch.

    Returns that item, its owner, and the tokens the demo handed out.
    """
    with transaction(sessions) as session:
        tokens = demo.load(session, TZ).tokens
        item = session.scalars(
            select(Item).where(Item.status == "owner", Item.deadline.is_not(None)).order_by(Item.id)
        ).first()
        assert item is not None and item.owner is not None
        item_id, owner = item.id, item.owner.username
    step(sessions, item_id, owner, {"result": "第一次整改"})
    step(sessions, item_id, "approver", {"decision": "reject", "comment": "整改不到位，退回"})
    with transaction(sessions) as session:
        item, person = session.get_one(Item, item_id), identity.user_by_username(session, owner)
        progress.report(session, person.id, item, progress.NewProgress(note="已完成一半", percent=50, plan="下周完成"))
        assert item.deadline is not None
        asked = extensions.request(
            session, person, item, item.deadline + dt.timedelta(days=30), "材料待补", item.deadline
        )
        approver = identity.user_by_username(session, "approver")
        extensions.decide(session, approver, asked.id, extensions.Decision(grant=True, comment="同意"), TZ)
        notifications.mark_read(session, person, notifications.for_user(session, person)[0].id)
        admin_log.record(session, "admin", "user.create", target=owner, remote_addr="127.0.0.1", roles=["member"])
        identity.user_by_username(session, "admin").password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
    return item_id, owner, tokens


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows by primary key, as the product reads them (aware UTC times, dates, JSON)."""
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def null_json(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT COUNT(*) FROM task WHERE data IS NULL")) or 0


def test_a_dump_restores_into_the_other_database_equal_and_working(
    sessions: sessionmaker[Session], db_engine: Engine, other: Engine, tmp_path: Path
) -> None:
    item_id, owner, tokens = build(sessions)
    dump = tmp_path / "rectiflow.backup.gz"
    exported = backup.export(db_engine, dump)
    restored = backup.restore(other, dump, KEY)

    assert exported.schema_revision == migrate.head()
    assert restored.summary.counts == exported.counts
    assert exported.counts["item"] == 40
    assert "api_token" not in exported.counts
    assert (restored.verified.ok, restored.verified.checked) == (True, exported.counts["history_event"])

    source, target = rows(db_engine), rows(other)
    # Secrets stay behind: no token at all, users without a password; everything else is equal.
    assert (len(source["api_token"]), target["api_token"]) == (len(tokens), [])
    hidden = [column.name for column in User.__table__.columns].index("password_hash")
    assert any(user[hidden] for user in source["user_account"])
    assert [user[hidden] for user in target["user_account"]] == [None] * len(source["user_account"])
    for name in set(source) - {"api_token", "user_account"}:
        assert target[name] == source[name], name
    severity = [column.name for column in Item.__table__.columns].index("severity")
    assert {item[severity] for item in target["item"]} == {"一般", "较重", "严重"}  # the demo's mix, carried over
    assert [u[:hidden] for u in target["user_account"]] == [u[:hidden] for u in source["user_account"]]
    # A JSON column's SQL NULL stays SQL NULL (not the JSON text 'null', which reads the same).
    assert null_json(db_engine) == null_json(other) > 0

    restored_sessions = make_session_factory(other, KEY)
    with transaction(restored_sessions) as session:
        assert all(identity.authenticate(session, token) is None for token in tokens.values())
        last = session.scalar(select(func.max(HistoryEvent.seq)).where(HistoryEvent.item_id == item_id))
    # The restored item carries on where it stopped: new tasks, history and ids do not collide.
    assert step(restored_sessions, item_id, owner, {"result": "恢复后完成整改"}).status == "review"
    with transaction(restored_sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.create_item(session, reporter, workflow.NewItem(title="恢复后新登记", department="office"), TZ)
        assert new.id == max(row[0] for row in source["item"]) + 1
        assert session.scalar(select(func.max(HistoryEvent.seq)).where(HistoryEvent.item_id == item_id)) == last + 1
    with transaction(restored_sessions) as session:
        report = audit.verify(session)
    # One event for the step, two for the new item (created, then its deadline decision).
    assert (report.ok, report.checked) == (True, exported.counts["history_event"] + 3)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t.name: connection.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def test_a_database_that_is_not_empty_is_refused(
    sessions: sessionmaker[Session], people: People, db_engine: Engine, tmp_path: Path
) -> None:
    audit_build(sessions)
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump)
    before = counts(db_engine)
    with pytest.raises(BackupRefused, match=r"not empty \(\w+ has \d+ rows\)"):
        backup.restore(db_engine, dump, KEY)
    assert counts(db_engine) == before


Lines = list[list[Any]]


def rewrite(dump: Path, change: Callable[[dict[str, Any], Lines], None]) -> None:
    """Edit a dump's header and row lines in place, as someone with the file could."""
    with gzip.open(dump, "rt", encoding="utf-8") as lines:
        header, *body = (json.loads(line) for line in lines)
    change(header, body)
    with gzip.open(dump, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *body])


def column(header: dict[str, Any], table: str, name: str) -> int:
    return int(header["tables"][table]["columns"].index(name))


def edit_an_event(header: dict[str, Any], body: Lines) -> None:
    actor = column(header, "history_event", "actor")
    seq = column(header, "history_event", "seq")
    event = next(values for table, values in body if table == "history_event" and values[seq] == 2)
    event[actor] = "someone_else"


def drop_the_last_row(header: dict[str, Any], body: Lines) -> None:
    body.pop()


def assign_to_nobody(header: dict[str, Any], body: Lines) -> None:
    assignee = column(header, "task", "assignee_id")
    next(values for table, values in body if table == "task")[assignee] = 9999


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (edit_an_event, r"history does not verify, nothing was restored: item \d+ event 2: altered"),
        (drop_the_last_row, "rows do not add up to its header"),
        (assign_to_nobody, "rows do not fit the schema"),
    ],
)
def test_an_edited_dump_is_refused_with_nothing_written(
    sessions: sessionmaker[Session],
    people: People,
    db_engine: Engine,
    other: Engine,
    tmp_path: Path,
    change: Callable[[dict[str, Any], Lines], None],
    message: str,
) -> None:
    audit_build(sessions)
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump)
    rewrite(dump, change)
    with pytest.raises(BackupRefused, match=message):
        backup.restore(other, dump, KEY)
    assert set(counts(other).values()) == {0}


def test_a_dump_restored_under_another_key_is_refused_and_says_why(
    sessions: sessionmaker[Session], people: People, db_engine: Engine, other: Engine, tmp_path: Path
) -> None:
    audit_build(sessions)
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump)
    assert AUDIT_KEY not in gzip.decompress(dump.read_bytes()).decode()
    with pytest.raises(BackupRefused, match="audit key of the instance that exported it"):
        backup.restore(other, dump, b"another-instance-key-0123456789abcdef")
    assert set(counts(other).values()) == {0}
    assert backup.restore(other, dump, KEY).verified.ok


def newer_revision(header: dict[str, Any], body: Lines) -> None:
    header["schema_revision"] = "9999"


def older_revision(header: dict[str, Any], body: Lines) -> None:
    header["schema_revision"] = "0001"


def next_format_version(header: dict[str, Any], body: Lines) -> None:
    header["format_version"] = backup.FORMAT_VERSION + 1


def another_format(header: dict[str, Any], body: Lines) -> None:
    header["format"] = "something-else"


def a_column_more(header: dict[str, Any], body: Lines) -> None:
    header["tables"]["item"]["columns"].append("priority")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (newer_revision, "schema revision 9999 is newer than this Rectiflow knows"),
        (older_revision, "older schema revision 0001"),
        (next_format_version, f"Backup format version {backup.FORMAT_VERSION + 1}"),
        (another_format, "not a Rectiflow backup"),
        (a_column_more, "tables or columns differ"),
    ],
)
def test_a_dump_this_version_cannot_read_is_refused(
    sessions: sessionmaker[Session],
    db_engine: Engine,
    tmp_path: Path,
    change: Callable[[dict[str, Any], Lines], None],
    message: str,
) -> None:
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump)
    rewrite(dump, change)
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    with pytest.raises(BackupRefused, match=message):
        backup.restore(target, dump, KEY)
    with target.connect() as connection:
        assert migrate.current(connection) is None
    target.dispose()


def test_a_file_that_is_not_a_dump_is_refused(tmp_path: Path) -> None:
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    for name, content in [("plain.txt", b"item,title\n1,x\n"), ("cut.gz", gzip.compress(b'{"format": "rect')[:20])]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(BackupRefused, match="is not a whole Rectiflow backup"):
            backup.restore(target, tmp_path / name, KEY)
    target.dispose()


def test_a_snapshot_reads_one_state_while_writers_carry_on(
    sessions: sessionmaker[Session], people: People, db_engine: Engine
) -> None:
    audit_build(sessions, 1)
    items = select(func.count()).select_from(Item)
    with snapshot(db_engine) as connection:
        assert connection.scalar(items) == 1
        # Another transaction commits meanwhile, without waiting for the snapshot to end...
        audit_build(sessions, 1)
        # ...and the snapshot, as an export reads it, still sees the state it began with.
        assert connection.scalar(items) == 1
    with db_engine.connect() as connection:
        assert connection.scalar(items) == 2
