"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, Connection, Engine, column, insert, inspect, select, table

from engine.audit import audit
from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle, from_folder
from engine.notify.notification_text import describe
from engine.store import migrate
from engine.store.db import Base, make_engine, make_session_factory, transaction
from engine.store.errors import AuditKeyMissing
from engine.store.models import (
    AdminLogEntry,
    AuditAnchor,
    Department,
    HistoryEvent,
    Item,
    Notification,
    ProcessDefinition,
    User,
    UtcDateTime,
)
from tests.conftest import AUDIT_KEY, PROCESSES, postgres_database
from tests.engine.audit.test_audit import plain_sha256

KEY = AUDIT_KEY.encode()


PG_ONLY_INDEXES = {"ix_item_title_trgm", "ix_item_description_trgm", "ix_item_deadline_desc"}


def _modelled(name: str | None, kind: str, _parents: object) -> bool:
    # PostgreSQL's own indexes (migrations 0020, 0021): trigram indexes where pg_trgm could be created, an index
    # with NULLS LAST. No model declares them.
    return not (kind == "index" and name in PG_ONLY_INDEXES)


def test_migrated_schema_matches_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _modelled})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


@contextmanager
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the same kind as ``database_url``."""
    with ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        else:
            url = stack.enter_context(postgres_database())
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield engine


def upgrade_to(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade_to(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


# The process_definition table as revisions 0001 to 0007 have it: no note, no retired mark, forms only in the model.
DEFINITION_0007 = table(
    "process_definition",
    column("id"),
    column("key"),
    column("version"),
    column("name"),
    column("bpmn_xml"),
    column("sha256"),
    column("specs"),
    column("model", JSON()),
    column("deployed_at", UtcDateTime()),
)


def old_history(engine: Engine) -> None:
    """Two items chained with plain SHA-256, as revision 0002 wrote them; item 2's event 2 was edited since."""
    at = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    statuses = ["identified", "measures", "owner"]
    with engine.begin() as conn:
        conn.execute(insert(Department.__table__).values(id=1, code="office", name="办公室"))
        conn.execute(
            insert(DEFINITION_0007).values(
                id=1, key="p", version=1, name="p", bpmn_xml="", sha256="0" * 64, specs="", model={}, deployed_at=at
            )
        )
        prev_anchor = "0" * 64
        for item_id, count in ((1, 3), (2, 2)):
            conn.execute(
                insert(Item.__table__).values(
                    id=item_id,
                    title=f"旧 {item_id}",
                    department_id=1,
                    status=statuses[count - 1],
                    status_label="",
                    definition_id=1,
                    version=count,
                )
            )
            prev = first = "0" * 64
            for seq in range(1, count + 1):
                event = HistoryEvent(
                    item_id=item_id,
                    seq=seq,
                    at=at + dt.timedelta(minutes=seq),
                    actor="manager",
                    action="completed",
                    task=None,
                    status_from=statuses[seq - 2] if seq > 1 else None,
                    status_to=statuses[seq - 1],
                    data={"n": seq},
                )
                event.hash = plain_sha256(event, prev)
                event.prev_hash = prev
                actor = "someone_else" if (item_id, seq) == (2, 2) else event.actor
                values = {c.name: getattr(event, c.name) for c in HistoryEvent.__table__.columns if c.name != "id"}
                conn.execute(insert(HistoryEvent.__table__).values({**values, "actor": actor}))
                first = event.hash if seq == 1 else first
                prev = event.hash
            link = {"item": item_id, "first": first, "prev": prev_anchor}
            link_hash = hashlib.sha256(
                json.dumps(link, sort_keys=True, separators=(",", ":")).encode("utf-8")
            ).hexdigest()
            conn.execute(
                insert(AuditAnchor.__table__).values(
                    item_id=item_id, first_hash=first, prev_hash=prev_anchor, hash=link_hash
                )
            )
            prev_anchor = link_hash


def test_existing_history_is_rechained_under_the_key_and_the_admin_log_says_so(
    database_url: str, tmp_path: Path
) -> None:
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0002")
        old_history(engine)
        migrate.upgrade(engine, KEY)
        with transaction(make_session_factory(engine, KEY)) as session:
            report = audit.verify(session)
            (entry,) = session.scalars(select(AdminLogEntry).where(AdminLogEntry.action == "history.rechain"))
        # The edit made before the upgrade is not laundered by it: it stays reported, nothing else is.
        assert [(p["item_id"], p["seq"]) for p in report.problems] == [(2, 2), (2, 2)]
        assert (report.checked, entry.actor) == (5, "migration:0003")
        assert (entry.detail["items"], entry.detail["events"], entry.detail["kept_broken"]) == (2, 4, 1)
        with transaction(make_session_factory(engine, b"another-key-0123456789abcdef0123456789")) as session:
            assert audit.verify(session).problem_count > 2


def test_the_upgrade_refuses_to_rechain_without_a_key(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECTIFLOW_AUDIT_KEY")
    monkeypatch.setenv("RECTIFLOW_INSTANCE_PATH", str(tmp_path / "instance"))
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0002")
        old_history(engine)
        with pytest.raises(AuditKeyMissing, match="RECTIFLOW_AUDIT_KEY"):
            migrate.upgrade(engine)
        with engine.connect() as connection:
            assert migrate.current(connection) == "0002"


# The notification table as revision 0006 has it: composed text, no data.
NOTIFICATION_0006 = table(
    "notification",
    column("id"),
    column("user_id"),
    column("kind"),
    column("title"),
    column("message"),
    column("created_at", UtcDateTime()),
)
OLD_TITLE, OLD_MESSAGE = "被退回：路灯不亮", "整改落实 Rectify｜退回原因 Reason: 仍有两盏不亮"


def test_notifications_written_before_0007_read_as_stored_and_the_downgrade_gives_text_back(
    database_url: str, tmp_path: Path
) -> None:
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0006")
        with engine.begin() as conn:
            conn.execute(insert(User.__table__).values(id=1, username="owner", display_name="责任人"))
            at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
            old = {"id": 1, "user_id": 1, "kind": "rejection", "title": OLD_TITLE, "message": OLD_MESSAGE}
            conn.execute(insert(NOTIFICATION_0006).values(**old, created_at=at))

        upgrade_to(engine, "0007")
        with transaction(make_session_factory(engine, KEY)) as session:
            (stored,) = session.scalars(select(Notification))
            assert (stored.kind, describe(stored, "en"), describe(stored, "zh")) == (
                "rejection",
                (OLD_TITLE, OLD_MESSAGE),
                (OLD_TITLE, OLD_MESSAGE),
            )
            decided = {"item": "路灯不亮", "verdict": "granted", "new_deadline": "2026-12-20", "comment": None}
            session.add(Notification(id=2, user_id=1, kind="extension_decided", data=decided))

        downgrade_to(engine, "0006")
        with engine.connect() as conn:
            rows = conn.execute(
                select(NOTIFICATION_0006.c.kind, NOTIFICATION_0006.c.title, NOTIFICATION_0006.c.message).order_by(
                    NOTIFICATION_0006.c.id
                )
            ).all()
            assert migrate.current(conn) == "0006"
        # The older code's kinds and text: as stored, or composed in both languages.
        assert [tuple(row) for row in rows] == [
            ("rejection", OLD_TITLE, OLD_MESSAGE),
            (
                "extension",
                "同意延期：路灯不亮 / Extension granted: 路灯不亮",
                "新的整改时限：2026年12月20日\nNew deadline: 2026-12-20",
            ),
        ]


def test_versions_deployed_before_0008_keep_their_forms_and_redeploying_them_adds_no_version(
    database_url: str, tmp_path: Path
) -> None:
    # A diagram with forms and no decision table, as every diagram then was (decisions came with 0013).
    bundle = from_folder(PROCESSES / "joint_stage.bpmn", PROCESSES / "forms")
    assert bundle.forms and not bundle.decisions
    built = deploy.build(bundle)
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0007")
        with engine.begin() as conn:
            conn.execute(
                insert(DEFINITION_0007).values(
                    id=1,
                    key=built.key,
                    version=1,
                    name=built.name,
                    bpmn_xml=built.xml,
                    sha256=hashlib.sha256(built.xml.encode()).hexdigest(),
                    specs=built.specs,
                    model=built.model,
                    deployed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                )
            )

        upgrade_to(engine, "0008")
        with transaction(make_session_factory(engine, KEY)) as session:
            (old,) = session.scalars(select(ProcessDefinition))
            assert (old.note, old.retired, old.sha256) == (None, False, built.sha256)
            # The forms as the model kept them: the same content, laid out anew.
            assert {form.key: json.loads(form.content) for form in old.forms} == {
                key: json.loads(text) for key, text in built.forms.items()
            }
            again, created = deploy.deploy(session, bundle, actor="designer")
            assert (again.id, created) == (1, False)
            with_note, created = deploy.deploy(session, Bundle(bundle.diagram + b"\n", bundle.forms), "d", "改")
            assert (with_note.version, with_note.note, created) == (2, "改", True)

        downgrade_to(engine, "0007")
        with engine.connect() as conn:
            rows = conn.execute(select(DEFINITION_0007.c.id, DEFINITION_0007.c.sha256).order_by("id")).all()
            assert migrate.current(conn) == "0007"
            assert "process_form" not in inspect(conn).get_table_names()
        assert rows == [
            (1, hashlib.sha256(built.xml.encode()).hexdigest()),
            (2, hashlib.sha256(bundle.diagram + b"\n").hexdigest()),
        ]


# The item table's required columns as revision 0012 has them: no severity.
ITEM_0012 = table(
    "item",
    column("id"),
    column("title"),
    column("description"),
    column("department_id"),
    column("ongoing"),
    column("status"),
    column("status_label"),
    column("definition_id"),
    column("created_at", UtcDateTime()),
    column("updated_at", UtcDateTime()),
    column("version"),
)


def old_items(conn: Connection, status: str, count: int = 1) -> dt.datetime:
    """Items 1..``count`` of unit 1 and definition 1, with the columns revision 0012 requires; when raised."""
    at = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    conn.execute(insert(Department.__table__).values(id=1, code="office", name="办公室"))
    conn.execute(
        insert(DEFINITION_0007).values(
            id=1, key="p", version=1, name="p", bpmn_xml="", sha256="0" * 64, specs="", model={}, deployed_at=at
        )
    )
    for item_id in range(1, count + 1):
        conn.execute(
            insert(ITEM_0012).values(
                id=item_id, title="旧", description="", department_id=1, ongoing=False, status=status,
                status_label="", definition_id=1, created_at=at, updated_at=at, version=1,
            )
        )  # fmt: skip
    return at


def test_items_registered_before_0015_are_of_the_normal_severity(database_url: str, tmp_path: Path) -> None:
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0012")
        with engine.begin() as conn:
            old_items(conn, "owner")
        upgrade_to(engine, "0015")
        with engine.connect() as conn:
            assert conn.scalar(select(Item.severity)) == "一般"


TASK_0022 = table(
    "task",
    column("id"),
    column("item_id"),
    column("spiff_id"),
    column("name"),
    column("title"),
    column("state"),
    column("created_at", UtcDateTime()),
    column("data", JSON()),
)


def test_items_reviewed_before_0023_keep_the_mechanism_their_latest_review_noted(
    database_url: str, tmp_path: Path
) -> None:
    with fresh_database(database_url, tmp_path) as engine:
        upgrade_to(engine, "0022")
        with engine.begin() as conn:
            at = old_items(conn, "closed", count=2)
            # Item 1 was sent back once after a review noting none was needed, then closed with one adopted;
            # a later task that noted nothing, and a task not completed, change nothing. Item 2 noted none.
            tasks = [
                (1, "completed", {"decision": "reject", "mechanism": "none_needed"}),
                (1, "completed", {"decision": "approve", "mechanism": "measure_adopted"}),
                (1, "completed", {"result": "r", "mechanism": None}),
                (1, "ready", {"mechanism": "none_needed"}),
                (2, "completed", {"decision": "approve"}),
            ]
            for n, (item_id, state, data) in enumerate(tasks, start=1):
                values = {"id": n, "item_id": item_id, "spiff_id": str(n), "name": "review", "title": "审核"}
                conn.execute(insert(TASK_0022).values(**values, state=state, created_at=at, data=data))
        upgrade_to(engine, "0023")
        with engine.connect() as conn:
            assert dict(conn.execute(select(Item.id, Item.mechanism).order_by(Item.id)).all()) == {
                1: "measure_adopted",
                2: None,
            }
