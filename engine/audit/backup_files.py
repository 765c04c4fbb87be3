"""Evidence files in a backup: after the rows, each distinct file once, as lines of base64 chunks.

A file is ``["@file", sha256, chunk]`` lines, one per MiB (a line never holds a whole large file), in
the order of its first attachment. Restoring writes each file to the store only once its bytes hash
to its name; then ``audit verify`` with the store checks every attachment row has its bytes.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, func, select

from engine.evidence.storage import FileStore, chunks
from engine.store.errors import BackupRefused
from engine.store.models import Attachment

FILE_LINE = "@file"


def count(connection: Connection) -> dict[str, int]:
    """The header's ``files``: how many distinct files and bytes follow the rows."""
    distinct = select(Attachment.sha256, func.max(Attachment.size).label("size")).group_by(Attachment.sha256).subquery()
    total = connection.execute(select(func.count(), func.coalesce(func.sum(distinct.c.size), 0))).one()
    return {"count": total[0], "bytes": int(total[1])}


def write(connection: Connection, files: FileStore | None, out: IO[str], line: Callable[[Any], str]) -> None:
    shas = list(connection.scalars(select(Attachment.sha256).group_by(Attachment.sha256).order_by(Attachment.sha256)))
    if shas and files is None:
        raise BackupRefused("备份需要文件存储 The database has evidence files: the backup needs the file store")
    for sha256 in shas:
        assert files is not None
        try:
            stream = files.open(sha256)
        except FileNotFoundError:
            missing = f"文件缺失 Evidence file {sha256} is missing from the store: run `audit verify`"
            raise BackupRefused(missing) from None
        for chunk in chunks(stream):
            out.write(line([FILE_LINE, sha256, base64.b64encode(chunk).decode("ascii")]))


class Sink:
    """Receives a backup's file lines, one file at a time, and stores each once it is proven whole."""

    def __init__(self, files: FileStore | None) -> None:
        self.files = files
        self.stored = 0
        self._current: str | None = None
        self._spool: IO[bytes] | None = None
        self._digest = hashlib.sha256()

    def add(self, line: list[Any]) -> None:
        """One ``[sha256, base64 chunk]`` of a file line."""
        if len(line) != 2 or not all(isinstance(part, str) for part in line):
            raise BackupRefused("备份中的文件行不符 A file line of the backup is malformed")
        sha256, chunk = line
        if self.files is None:
            raise BackupRefused("备份含有文件 The backup holds evidence files: restore it with the file store")
        if sha256 != self._current:
            self.finish()
            self._current, self._digest = sha256, hashlib.sha256()
            self._spool = tempfile.NamedTemporaryFile(prefix="rectiflow-restore-")  # noqa: SIM115 - closed in finish
        data = base64.b64decode(chunk, validate=True)
        self._digest.update(data)
        assert self._spool is not None
        self._spool.write(data)

    def finish(self) -> None:
        """Store the file being received, after checking its bytes against its SHA-256."""
        if self._spool is None or self._current is None:
            return
        spool, sha256 = self._spool, self._current
        self._spool = self._current = None
        with spool:
            if self._digest.hexdigest() != sha256:
                raise BackupRefused(f"备份中的文件已损坏 Evidence file {sha256} in the backup does not match its hash")
            spool.flush()
            assert self.files is not None
            self.files.put(sha256, Path(spool.name))
        self.stored += 1
