"""Typed ORM models: identity, process definitions, items with their instance, tasks and history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from engine.store import severity
from engine.store.db import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite keeps no offset: store and read as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    external: Mapped[bool] = mapped_column(Boolean, default=False)


class User(Base):
    __tablename__ = "user_account"
    # One local user per single sign-on identity: the provider's issuer and its ``sub`` for the person.
    __table_args__ = (UniqueConstraint("sso_issuer", "sso_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # argon2 hash; None: the user cannot log in with a password (tokens or single sign-on only).
    password_hash: Mapped[str | None] = mapped_column(String(255), deferred=True)
    # Stored in each browser session at its login; raised to end every session (logout, new password...).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The single sign-on identity linked to this user (None: none yet); never the claimed username alone.
    sso_issuer: Mapped[str | None] = mapped_column(String(500))
    sso_subject: Mapped[str | None] = mapped_column(String(255))

    department: Mapped[Department | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(row.role for row in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # None: valid until revoked (tokens made by an administrator); login tokens always expire.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class ProcessDefinition(Base):
    """One deployed version of a diagram; its parsed spec is stored once here, not in every instance."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    # Large and immutable: loaded only when needed (the parsed spec is cached by its hash).
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    specs: Mapped[str] = mapped_column(Text, deferred=True)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    deployed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    # What changed, in the designer's words.
    note: Mapped[str | None] = mapped_column(String(2000))
    # No new item starts on a retired version; those running on it go on.
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    forms: Mapped[list[ProcessForm]] = relationship(
        back_populates="definition", order_by="ProcessForm.key", cascade="all, delete-orphan"
    )


class ProcessForm(Base):
    """A form as deployed with its version, byte for byte (the engine reads the parsed copy in ``model``)."""

    __tablename__ = "process_form"

    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    definition: Mapped[ProcessDefinition] = relationship(back_populates="forms")


class ProcessDefault(Base):
    """The version new items of a process start on, when a designer marked one (else its latest)."""

    __tablename__ = "process_default"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))


OPEN_ONLY = text("closed_at IS NULL")


class Item(Base):
    """A rectification item (整改事项); ``version`` grows with every change and is the ETag."""

    __tablename__ = "item"
    __table_args__ = (
        # A ledger tab (one status) newest first, and the ledger sorted by status, read straight off this index.
        Index("ix_item_status_id", "status", "id"),
        # The overdue (open, past their deadline) without reading the closed: the inbox's order, the ledger's filter.
        Index("ix_item_open_deadline", "deadline", postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str | None] = mapped_column(String(50))
    category: Mapped[str | None] = mapped_column(String(100))
    # 严重程度: one of ``severity.SEVERITIES``; the database's default, as the migration gave the items before it.
    severity: Mapped[str] = mapped_column(String(8), server_default=severity.DEFAULT)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    deadline: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # 长期坚持: no fixed date, never due.
    ongoing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(64))
    status_label: Mapped[str] = mapped_column(String(200))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # HMAC over the last history event (seq, hash) and this status and version (``engine.audit.history``):
    # removing the latest events, or changing the status without an event, breaks it.
    history_seal: Mapped[str | None] = mapped_column(String(64))
    # 长效机制: what its latest review noting one said (``engine.measures.mechanism``), kept as each is completed.
    mechanism: Mapped[str | None] = mapped_column(String(32))

    department: Mapped[Department] = relationship(lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    definition: Mapped[ProcessDefinition] = relationship(lazy="raise")
    instance: Mapped[Instance] = relationship(back_populates="item", lazy="raise")


class RecurrenceScan(Base):
    """An item compared with the items closed before it (曾整改过): how, over how many months, and which ways
    found more alike items than were kept (``engine.measures.recurrence_scans``). No row: not compared yet, or
    the item changed since (its title, unit, category or raising date)."""

    __tablename__ = "recurrence_scan"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    months: Mapped[int] = mapped_column(Integer)
    truncated: Mapped[list[str]] = mapped_column(JSON, default=list)


class RecurrencePending(Base):
    """An item waiting to be compared (again): raised, changed, or one that may have found a changed item."""

    __tablename__ = "recurrence_pending"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), primary_key=True)


class RecurrenceMatch(Base):
    """An earlier item one way of comparing found alike an item, and its rank that way (0 first)."""

    __tablename__ = "recurrence_match"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), primary_key=True)
    way: Mapped[str] = mapped_column(String(32), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    earlier_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)


class ItemUnit(Base):
    """A unit taking part in an item: its lead (责任单位/牵头单位) and co-units (配合单位) of a joint task."""

    __tablename__ = "item_unit"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer)

    department: Mapped[Department] = relationship(lazy="joined")


class Instance(Base):
    """The SpiffWorkflow state of one item, without its spec (that lives on the definition)."""

    __tablename__ = "instance"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    # Serialized JSON text, so that restoring needs one parse of spec and state together.
    state: Mapped[str] = mapped_column(Text, deferred=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    item: Mapped[Item] = relationship(back_populates="instance")


class Task(Base):
    """A user task as people see it. Ids are ours, never reused: a finished task stays finished."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_inbox", "state", "candidate_role", "candidate_department_id"),
        # An item's live tasks, found without scanning every task it ever had.
        Index("ix_task_item_state", "item_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    spiff_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    lane: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    candidate_role: Mapped[str | None] = mapped_column(String(32))
    candidate_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The users a diagram names as candidates (camunda:candidateUsers), by id: ",3,17," so the inbox can LIKE one.
    candidate_user_ids: Mapped[str | None] = mapped_column(Text)
    excluded_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Which instance of a multi-instance task this is: the element it works on (e.g. a unit's code).
    instance_key: Mapped[str | None] = mapped_column(String(200))
    # What was submitted when it was completed.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The called process's definition, for a task of a process a call activity called (None: the item's).
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))

    item: Mapped[Item] = relationship(lazy="raise")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id], lazy="raise")


class ExternalTask(Base):
    """An external service task waiting for a worker of its topic (``engine.items.external``).

    ``open`` while the diagram waits at it: offered to a worker when ``available_at`` has come and no
    lock holds (``lock_expires_at`` passed); a worker holds it while its lock lasts. ``incident`` once a
    worker gave up with no retries left (an admin's retry opens it again); ``completed`` or ``cancelled``
    for good (an interrupting event, or a migration, removed it from the diagram's path).
    """

    __tablename__ = "external_task"
    __table_args__ = (Index("ix_external_task_fetch", "state", "topic", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    spiff_id: Mapped[str] = mapped_column(String(36))
    element: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # The item's data when the task was reached: what a worker is given.
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    worker_id: Mapped[str | None] = mapped_column(String(100))
    lock_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    available_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # None until a worker reports a failure, then what it said is left.
    retries: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class ProgressUpdate(Base):
    """A progress note on an item without completing its task (for 旬调度 and the week's plan)."""

    __tablename__ = "progress_update"
    __table_args__ = (Index("ix_progress_update_item_at", "item_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(Text)
    percent: Mapped[int | None] = mapped_column(Integer)
    plan: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User] = relationship(lazy="joined")


class HistoryEvent(Base):
    """Append-only record of what happened to an item: who, when, what and why."""

    __tablename__ = "history_event"
    __table_args__ = (UniqueConstraint("item_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the (item_id, seq) unique constraint.
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    task: Mapped[str | None] = mapped_column(String(200))
    status_from: Mapped[str | None] = mapped_column(String(64))
    status_to: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Tamper evidence: HMAC-SHA-256 (keyed, ``engine.audit.keys``) over this event's canonical form and the
    # previous event's hash.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


RECURRENCE_ONLY = text("kind = 'recurrence'")


class Job(Base):
    """Background work due at a time: claimed by one worker at a time under a lease.

    A timer job is the next moment one of an item's BPMN timers is due; there is at most one per item,
    kept so by updating it under the item's lock. An email job carries its notification's id.
    """

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_kind_item", "kind", "item_id"),
        Index("ix_job_due", "due_at"),
        # One recurrence job (``engine.measures.recurrence_scans``), however many processes make it due at once.
        Index("ux_job_recurrence", "kind", unique=True, postgresql_where=RECURRENCE_ONLY, sqlite_where=RECURRENCE_ONLY),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Notification(Base):
    """An in-app notification (通知) for one person: a task for them, a warning, an escalation, a rejection.

    It keeps what happened (``kind`` and ``data``: the item's title, the step, the reason...), not text: it is
    said in the reader's language when shown (``engine.notify.notification_text``).
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class ExtensionRequest(Base):
    """A request to move an item's deadline (延期申请): asked by its owner, decided by an approver."""

    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    current_deadline: Mapped[dt.date | None] = mapped_column(Date)
    new_deadline: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class ProcessMigration(Base):
    """Running items of a process moved onto one of its versions: asked by a designer, confirmed by another person."""

    __tablename__ = "process_migration"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    # Element of the older version → element of the target, for the steps whose id the target changed.
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    # Which items: every running one on a version ({"from_version": n}) or these ({"items": [ids]}).
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Item by item, what the move did (when confirmed) or would do (when asked).
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    target: Mapped[ProcessDefinition] = relationship(lazy="joined")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class AuditAnchor(Base):
    """A global chain with one link per item, holding its first event's hash: deleting a whole item shows."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, unique=True)
    first_hash: Mapped[str] = mapped_column(String(64))
    # Unique: two links can never claim the same predecessor, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class Incident(Base):
    """A diagram's script, condition or timer expression failed on an item: the item waits for an admin's retry.

    Only that item stops; the error is in its history too. ``resolved_at`` is set by a retry that succeeds.
    """

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    # The BPMN element whose expression failed.
    element: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class AdminLogEntry(Base):
    """Append-only log of denied actions (403) and administrative changes, for auditors."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    # Who did it (None: not known, e.g. a failed login for an unknown name).
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    # What, e.g. ``denied``, ``user.create``, ``token.revoke``, ``process.deploy``, ``login.locked``.
    action: Mapped[str] = mapped_column(String(64), index=True)
    # What it was done to: a username, a token id, a process key, a request path.
    target: Mapped[str | None] = mapped_column(String(500))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HistoryPrune(Base):
    """An item's history removed under the configured retention; the removed chain's head stays provable."""

    __tablename__ = "history_prune"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, unique=True)
    # The last removed event: its seq and hash, so the archive file can be checked against the database.
    through_seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    pruned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    retention_days: Mapped[int] = mapped_column(Integer)
    archive: Mapped[str] = mapped_column(String(500))


class IdempotencyKey(Base):
    """A creating request, by its caller's key: a repeat gets the same outcome (``engine.store.idempotency``).

    Recorded in the transaction of what the request created, so one never commits without the other.
    """

    __tablename__ = "idempotency_key"
    # Two twins of one request may race: the second to commit meets this constraint and is undone.
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of what was asked (the web layer decides what that covers): a key is for one request only.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Older than the retention: forgotten (and pruned) by ``engine.store.idempotency``.
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    # What the first request answered, as the web layer gave it, to be given again.
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)


class Source(Base):
    """问题来源: the office's own list of where problems are found, kept by administrators.

    Items keep the name itself, so a source taken off the list (inactive) still names its old items.
    """

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)


class Webhook(Base):
    """An administrator's outgoing webhook: a URL told of the item events it subscribes to (``engine.notify.webhooks``).

    The secret signs each delivery (HMAC-SHA256); it is shown once, when the webhook is created. A removed
    webhook is kept inactive: its past deliveries (jobs) still name it.
    """

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Decision(Base):
    """One deployed version of a DMN decision (its key is the decision's id); immutable once stored.

    Its XML is the whole ``.dmn`` file it came in (a file with several decisions gives each a row holding it).
    """

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    hit_policy: Mapped[str] = mapped_column(String(16))
    dmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    # The process version whose bundle brought this version (None: deployed on its own).
    process_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    process_definition: Mapped[ProcessDefinition | None] = relationship(lazy="joined")


class Attachment(Base):
    """An evidence file (佐证材料): its bytes live in the file store under their SHA-256 (``engine.evidence``).

    Rows are never deleted: a removed file leaves the list (``removed_at``) but stays in the item's
    history and on file, so the evidence an approver once saw can still be proven.
    """

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the file belongs to something other than an item (a submission's not yet triaged, a measure's document).
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"), index=True)
    # The task it was uploaded for (None: for the item as a whole); removable only while that task is open.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    # The submission it came with (``engine.intake.files``); triage sets ``item_id`` too when it becomes an item.
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Sniffed from the content, never taken from the name or the client.
    media_type: Mapped[str] = mapped_column(String(100))
    # The original name, sanitised (``engine.evidence.names``).
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id], lazy="joined")


class Submission(Base):
    """A problem or suggestion raised through intake (``engine.intake``), and what its triage made of it.

    The text is stored as given (plain text, never rendered as HTML). A public submission keeps no
    address, only its keyed hash (for the rate limit), and no receipt code, only the code's SHA-256.
    """

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(50), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    contact: Mapped[str | None] = mapped_column(String(200))
    # None: raised through the public form.
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    raised_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    address_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # new, accepted (into a new item), merged (into an existing one) or declined (with a reason).
    status: Mapped[str] = mapped_column(String(16), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    triaged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    department: Mapped[Department] = relationship(lazy="joined")
    raised_by: Mapped[User | None] = relationship(foreign_keys=[raised_by_id], lazy="joined")
    triaged_by: Mapped[User | None] = relationship(foreign_keys=[triaged_by_id], lazy="joined")
    item: Mapped[Item | None] = relationship(lazy="joined")
    # Shown to who reads the submission (its submitter, its triagers), never on the public receipt.
    files: Mapped[list[Attachment]] = relationship(
        lazy="selectin",
        order_by="Attachment.id",
        primaryjoin="and_(Attachment.submission_id == Submission.id, Attachment.removed_at.is_(None))",
        viewonly=True,
    )


class OfficeSetting(Base):
    """A switch an administrator sets in the application (not the environment): shared by every web process."""

    __tablename__ = "office_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(64))


class Measure(Base):
    """An institutional measure (制度性措施, 长效机制): a rule, checklist, handbook or ledger distilled from items.

    Proposed as a draft (草案), adopted (施行, with its adoption date) or repealed (废止); its document is an
    evidence file (``attachment``) and its items are those it came from (``measure_item``).
    """

    __tablename__ = "measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    # rule, checklist, handbook, ledger or other (``engine.measures.catalog.Kind``).
    kind: Mapped[str] = mapped_column(String(16), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    # draft, in_force or repealed (``engine.measures.catalog.Status``).
    status: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    adopted_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    repealed_on: Mapped[dt.date | None] = mapped_column(Date)
    # The measure points at its document (not the attachment at the measure): the evidence files stay one
    # table owned by ``engine.evidence``, and a measure may cite a file already on one of its items.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")
    proposed_by: Mapped[User | None] = relationship(lazy="joined")
    document: Mapped[Attachment | None] = relationship(lazy="joined")


class MeasureItem(Base):
    """A measure came (in part) from this item."""

    __tablename__ = "measure_item"

    measure_id: Mapped[int] = mapped_column(ForeignKey("measure.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True, index=True)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    linked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
