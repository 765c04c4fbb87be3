"""Backup and restore: a consistent dump of the whole database, and its restore into an empty one.

The file is gzip-compressed JSON lines. Line 1 is the header: ``format``, ``format_version``,
``schema_revision`` (the Alembic revision of the database it came from), ``exported_at`` and, for
each table in foreign-key order, its exported ``columns`` and ``rows`` count. Every further line is
one row, ``[table, [value, ...]]`` in the header's column order. After the rows come the evidence
files (``engine.audit.backup_files``: header ``files``, ``{"count", "bytes"}``), each checked
against its SHA-256 when restored; a backup is therefore as large as the files it holds. Timestamps are aware UTC ISO
strings, dates ISO dates, JSON columns JSON, so values come back the same on SQLite and PostgreSQL.

Tables come from the ORM metadata, so a new table is backed up without anyone remembering to; only
the secrets below are left out. Export and import take an ``Engine``, not a session: each is its
own whole transaction (a read snapshot; all or nothing), as ``migrate.upgrade`` is.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Insert,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from engine.audit import audit, backup_files
from engine.evidence.storage import FileStore
from engine.store import migrate
from engine.store.db import Base, make_session_factory, snapshot, transaction
from engine.store.errors import BackupRefused
from engine.store.models import UtcDateTime, utcnow

FORMAT = "rectiflow-backup"
# 2: evidence files follow the rows.
FORMAT_VERSION = 2
BATCH = 1000

# The audit key is never in the database, so never in a backup. Other secrets never leave the database.
# Tokens are not restored at all (people ask for new ones);
# users come back without a password (an administrator sets new ones).
EXCLUDED_TABLES = frozenset({"api_token"})
EXCLUDED_COLUMNS = {"user_account": frozenset({"password_hash"})}

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def _same(value: Any) -> Any:
    return value


def _codec(column: Column[Any]) -> Codec:
    """How a column's values are written as JSON and read back; an unknown type is refused, not guessed."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return dt.datetime.isoformat, dt.datetime.fromisoformat
    if isinstance(kind, Date):
        return dt.date.isoformat, dt.date.fromisoformat
    if isinstance(kind, String | Integer | Boolean | JSON):
        return _same, _same
    raise TypeError(f"backup: no encoding for {column.table.name}.{column.name} ({kind!r})")


def tables() -> list[Table]:
    """Every table the backup holds, parents before children."""
    return [table for table in Base.metadata.sorted_tables if table.name not in EXCLUDED_TABLES]


def columns(table: Table) -> list[Column[Any]]:
    excluded = EXCLUDED_COLUMNS.get(table.name, frozenset())
    return [column for column in table.columns if column.name not in excluded]


@dataclass(frozen=True)
class Summary:
    schema_revision: str
    counts: dict[str, int]


def export(engine: Engine, path: Path, files: FileStore | None = None) -> Summary:
    """Write the whole database, as one consistent state, and the evidence files in ``files`` to ``path``
    (replaced only once complete). ``files`` may be left out only while there are no evidence files."""
    partial = path.with_name(path.name + ".partial")
    # Level 6 (zlib's default) rather than gzip's 9: far less time for a slightly larger file.
    try:
        with snapshot(engine) as connection, gzip.open(partial, "wt", encoding="utf-8", compresslevel=6) as out:
            summary = _write(connection, out, files)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def _write(connection: Connection, out: IO[str], files: FileStore | None) -> Summary:
    revision = migrate.current(connection)
    if revision != migrate.head():
        raise BackupRefused(
            f"数据库结构不是最新 The database is at schema revision {revision}, not {migrate.head()}: "
            "run `rectiflow init` first"
        )
    counts = {table.name: connection.scalar(select(func.count()).select_from(table)) or 0 for table in tables()}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_revision": revision,
        "exported_at": utcnow().isoformat(),
        "tables": {t.name: {"columns": [c.name for c in columns(t)], "rows": counts[t.name]} for t in tables()},
        "files": backup_files.count(connection),
    }
    out.write(_line(header))
    for table in tables():
        encoders = [_codec(column)[0] for column in columns(table)]
        query = select(*columns(table)).order_by(*table.primary_key.columns)
        # Streamed: a server-side cursor on PostgreSQL, so a large table never sits in memory whole.
        for row in connection.execution_options(yield_per=BATCH).execute(query):
            values = [None if value is None else encode(value) for encode, value in zip(encoders, row, strict=True)]
            out.write(_line([table.name, values]))
    backup_files.write(connection, files, out, _line)
    return Summary(revision, counts)


def _line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class Restored:
    summary: Summary
    verified: audit.Report


def restore(engine: Engine, path: Path, audit_key: bytes, files: FileStore | None = None) -> Restored:
    """Restore a backup into an empty database (migrated to the newest schema first): all or nothing.

    Refused, with nothing written, when the database holds any row, when the file is not a backup
    this code can read, or when the restored history does not verify under ``audit_key`` (which must
    be the key of the instance that exported it: the key is never in the backup). Its evidence files go to
    ``files``, each only once it hashes to its name; every attachment's bytes are verified there after.
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            # The header first: a file this code cannot read leaves the database as it was, schema included.
            header = _header(next(lines, ""))
            migrate.upgrade(engine, audit_key)
            with transaction(make_session_factory(engine, audit_key)) as session:
                _require_empty(session)
                counts = _insert(session, header, lines, backup_files.Sink(files))
                _restart_sequences(session)
                report = audit.verify(session, files)
                _require_verified(report)
    # ValueError: not JSON, not UTF-8, or a value that is not what its column holds.
    except (OSError, EOFError, ValueError) as exc:
        raise BackupRefused(f"不是完整的备份文件 {path} is not a whole Rectiflow backup: {exc}") from exc
    except (IntegrityError, DataError) as exc:
        raise BackupRefused(f"备份内容与数据库不符 The backup's rows do not fit the schema: {exc.orig}") from exc
    return Restored(Summary(header["schema_revision"], counts), report)


def _header(line: str) -> dict[str, Any]:
    header = json.loads(line) if line.startswith("{") else {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupRefused("不是 Rectiflow 备份文件 This is not a Rectiflow backup")
    if header.get("format_version") != FORMAT_VERSION:
        raise BackupRefused(
            f"备份格式版本不符 Backup format version {header.get('format_version')}; "
            f"this Rectiflow reads version {FORMAT_VERSION}"
        )
    revision = header.get("schema_revision")
    if revision not in migrate.known_revisions():
        raise BackupRefused(
            f"备份来自更新的版本 The backup's schema revision {revision} is newer than this Rectiflow knows "
            f"({migrate.head()}): restore it with the release that wrote it or a newer one"
        )
    if revision != migrate.head():
        raise BackupRefused(
            f"备份来自较旧的版本 The backup is at the older schema revision {revision} (this Rectiflow: "
            f"{migrate.head()}): restore it with the release that wrote it, upgrade, and export again"
        )
    expected = {table.name: [c.name for c in columns(table)] for table in tables()}
    if {name: spec.get("columns") for name, spec in header.get("tables", {}).items()} != expected:
        raise BackupRefused("备份的表或列与数据库结构不符 The backup's tables or columns differ from the schema")
    if not isinstance(header.get("files"), dict) or not isinstance(header["files"].get("count"), int):
        raise BackupRefused("备份缺少文件清单 The backup's header does not count its files")
    return header


def _require_empty(session: Session) -> None:
    for table in Base.metadata.sorted_tables:
        rows = session.scalar(select(func.count()).select_from(table))
        if rows:
            raise BackupRefused(
                f"目标数据库不为空 The target database is not empty ({table.name} has {rows} rows): "
                "restore only into a new, empty database (do not run `rectiflow init` before the import)"
            )


@dataclass(frozen=True)
class _Target:
    """How one table's rows are inserted: their keys, decoders and the statement."""

    table: Table
    keys: list[str]
    decoders: list[Callable[[Any], Any]]
    statement: Insert

    @classmethod
    def of(cls, table: Table) -> _Target:
        exported = columns(table)
        # A JSON column's None goes back as SQL NULL, not as the JSON text 'null' (a plain insert's choice);
        # a bound parameter may not share its column's name, hence the suffix.
        keys = [f"{c.name}__json" if isinstance(c.type, JSON) else c.name for c in exported]
        as_null = {
            c.name: bindparam(key, type_=JSON(none_as_null=True))
            for c, key in zip(exported, keys, strict=True)
            if key != c.name
        }
        return cls(table, keys, [_codec(c)[1] for c in exported], table.insert().values(as_null))

    def row(self, values: list[Any]) -> dict[str, Any]:
        if len(values) != len(self.keys):
            raise BackupRefused(f"备份行不符 A row of {self.table.name} does not match the header")
        decoded = [None if v is None else decode(v) for decode, v in zip(self.decoders, values, strict=True)]
        return dict(zip(self.keys, decoded, strict=True))


def _insert(session: Session, header: dict[str, Any], lines: Iterator[str], sink: backup_files.Sink) -> dict[str, int]:
    """Insert every row, ids kept, in the file's order (parents first), a batch at a time; files to ``sink``."""
    targets = {table.name: _Target.of(table) for table in tables()}
    counts = dict.fromkeys(targets, 0)
    batch: list[dict[str, Any]] = []
    current: _Target | None = None
    for line in lines:
        name, *rest = json.loads(line)
        if name == backup_files.FILE_LINE:
            sink.add(rest)
            continue
        if len(rest) != 1 or not isinstance(rest[0], list):
            raise BackupRefused(f"备份行不符 A line of {name!r} is not a row")
        values = rest[0]
        if name not in targets:
            raise BackupRefused(f"备份含有未知的表 The backup holds rows of an unknown table {name!r}")
        if current is None or name != current.table.name or len(batch) == BATCH:
            _flush(session, current, batch)
            batch, current = [], targets[name]
        batch.append(current.row(values))
        counts[name] += 1
    _flush(session, current, batch)
    sink.finish()
    expected = {name: spec["rows"] for name, spec in header["tables"].items()}
    if counts != expected:
        raise BackupRefused(f"备份不完整 The backup's rows do not add up to its header: {counts} != {expected}")
    if sink.stored != header["files"]["count"]:
        raise BackupRefused(f"备份不完整 The backup holds {sink.stored} files, its header {header['files']['count']}")
    return counts


def _flush(session: Session, target: _Target | None, batch: list[dict[str, Any]]) -> None:
    if target is not None and batch:
        session.execute(target.statement, batch)


def _restart_sequences(session: Session) -> None:
    """PostgreSQL: new rows take ids after the restored ones (SQLite follows max(rowid) by itself)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
            ),
            {"table": table.name, "column": column.name},
        )


def _require_verified(report: audit.Report) -> None:
    if report.ok:
        return
    shown = "; ".join(f"item {p['item_id']} event {p['seq']}: {p['reason']}" for p in report.problems[:5])
    more = f" (and {report.problem_count - 5} more)" if report.problem_count > 5 else ""
    raise BackupRefused(
        "备份中的历史记录校验失败，未恢复任何数据 "
        f"The backup's history does not verify, nothing was restored: {shown}{more}. "
        "A backup verifies only under the audit key of the instance that exported it: set that key "
        "(RECTIFLOW_AUDIT_KEY, or its <instance>/audit.key) here; if it is that key, the history was altered"
    )
