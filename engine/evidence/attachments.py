"""Evidence files of items: received, checked, stored by their SHA-256, listed, and removed (as a mark).

Each upload and removal is an event of the item's history carrying the file's SHA-256, name, size,
media type and task, so the tamper-evident chain covers the evidence; ``audit verify`` checks that
the bytes on file still hash to it. The caller owns the session (and commits).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.evidence import names, sniffing
from engine.evidence.storage import CHUNK, FileStore
from engine.identity import permissions
from engine.intake import submissions
from engine.items import items
from engine.items.workflow import lock_item
from engine.store.config import EvidenceSettings
from engine.store.errors import EvidenceLocked, Forbidden, InvalidInput, NotFound, TooLarge, UnsupportedType
from engine.store.models import Attachment, Item, Task, User, utcnow

OPEN_TASK_STATES = ("ready", "waiting")


@dataclass(frozen=True)
class Received:
    """An upload spooled to a temporary file, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str


def _refused(error: type[InvalidInput | TooLarge | UnsupportedType], message: str, field: str = "file") -> Exception:
    return error(message, errors=[{"field": field, "message": message}])


@contextmanager
def receive(stream: BinaryIO, limit: int) -> Iterator[Received]:
    """Copy ``stream`` to a temporary file, hashing as it goes, refusing at the first byte over ``limit``.

    The file never sits in memory whole, and is gone when the block ends, whatever happened.
    """
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(prefix="rectiflow-upload-") as spool:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            size += len(chunk)
            if size > limit:
                message = f"文件过大 The file is over {limit:,} bytes (RECTIFLOW_EVIDENCE_MAX_FILE_BYTES)"
                raise _refused(TooLarge, message)
            digest.update(chunk)
            spool.write(chunk)
        spool.flush()
        yield Received(Path(spool.name), size, digest.hexdigest())


def _closed(item: Item) -> bool:
    """Closed (销号) or withdrawn: its evidence is what it was closed on, for good."""
    return item.closed_at is not None


def _open_task(session: Session, item: Item, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.item_id != item.id or task.state not in OPEN_TASK_STATES:
        raise _refused(InvalidInput, f"不是本事项的待办任务 Task {task_id} is not an open task of this item", "task_id")
    return task


def check_room(
    session: Session, item: Item | None, sizes: Sequence[int], limits: EvidenceSettings, field: str = "file"
) -> None:
    """Refused (413 naming ``field``) when files of ``sizes`` would take the item (None: one not raised yet)
    over its count or its total: an upload's rule, and a submission's files joining an item at triage."""
    count, total = (0, 0)
    if item is not None:
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(Attachment.size), 0)).where(
                Attachment.item_id == item.id, Attachment.removed_at.is_(None)
            )
        ).one()
    if count + len(sizes) > limits.max_files:
        message = (
            f"附件数量超限 The item would have {count + len(sizes)} files, over the {limits.max_files} allowed "
            "(RECTIFLOW_EVIDENCE_MAX_FILES)"
        )
        raise _refused(TooLarge, message, field)
    if total + sum(sizes) > limits.max_item_bytes:
        message = (
            f"事项附件总量超限 The item's files would exceed {limits.max_item_bytes:,} bytes together "
            "(RECTIFLOW_EVIDENCE_MAX_ITEM_BYTES)"
        )
        raise _refused(TooLarge, message, field)


def _event(attachment: Attachment, task: Task | None) -> dict[str, Any]:
    return {
        "attachment_id": attachment.id,
        "sha256": attachment.sha256,
        "filename": attachment.filename,
        "size": attachment.size,
        "media_type": attachment.media_type,
        "task_id": attachment.task_id,
        "task": task.name if task else None,
    }


def _record(
    session: Session, item: Item, actor: User, action: str, attachment: Attachment, task: Task | None, **why: Any
) -> None:
    """A file added to or removed from ``item``: an event of its history (so of the tamper-evident chain)."""
    history.record_change(
        session,
        item,
        actor=actor.username,
        action=action,
        task=task.name if task else None,
        data={**_event(attachment, task), **why},
    )


def kept(
    store: FileStore, upload: Received, filename: str, media_type: str, by: int | None, **owner: int | None
) -> Attachment:
    """A checked file put in the store, and its row (``owner``: of an item and task, or of a submission), not added."""
    store.put(upload.sha256, upload.path)
    return Attachment(
        **owner,
        sha256=upload.sha256,
        size=upload.size,
        media_type=media_type,
        filename=filename,
        uploaded_by_id=by,
        uploaded_at=utcnow(),
    )


def require_addable(user: User, item: Item) -> None:
    """Whether ``user`` may add files to ``item`` (one they may see): a page offers its upload by this."""
    permissions.require_evidence_uploader(user)
    if _closed(item):
        raise _refused(InvalidInput, "事项已办结，不能再添加材料 The item is closed: no more files", "item")


def accepted(upload: Received, filename: str) -> tuple[str, str]:
    """The name a received file is kept under and its sniffed media type; refused (422/415) as unfit evidence."""
    name = names.clean(filename)
    if not name:
        raise _refused(InvalidInput, "文件名无效 The file has no usable name")
    if upload.size == 0:
        raise _refused(InvalidInput, "文件为空 The file is empty")
    media_type = sniffing.sniff(upload.path)
    if media_type is None:
        raise _refused(
            UnsupportedType,
            "不支持的文件类型 Only PDF, images (PNG, JPEG, GIF, WebP), Office/WPS/OpenDocument documents "
            "and plain text are accepted",
        )
    return names.fitted(name, media_type), media_type


def add(
    session: Session,
    user: User,
    item_id: int,
    upload: Received,
    filename: str,
    task_id: int | None,
    limits: EvidenceSettings,
    files: FileStore,
) -> Attachment:
    """Add an uploaded file to an item the user may see; nothing is stored when it is refused."""
    require_addable(user, items.get_visible(session, user, item_id))
    item = lock_item(session, item_id)
    require_addable(user, item)  # again under the lock: the item may have closed meanwhile
    task = _open_task(session, item, task_id) if task_id is not None else None
    filename, media_type = accepted(upload, filename)
    check_room(session, item, [upload.size], limits)
    attachment = kept(files, upload, filename, media_type, user.id, item_id=item.id, task_id=task.id if task else None)
    session.add(attachment)
    session.flush()
    _record(session, item, user, "attachment_added", attachment, task)
    return attachment


def adopt(session: Session, actor: User, attachment: Attachment, item: Item, **why: Any) -> None:
    """A file already on file (a submission's) becomes evidence of ``item`` (locked by the caller), in its history.

    The caller has checked that the item has room for it (``check_room``), as for an upload.
    """
    attachment.item_id = item.id
    session.flush()
    _record(session, item, actor, "attachment_added", attachment, None, **why)


def listed(session: Session, user: User, item_id: int) -> list[Attachment]:
    """The item's files, oldest first; removed ones are left out (their history stays)."""
    item = items.get_visible(session, user, item_id)
    query = select(Attachment).where(Attachment.item_id == item.id, Attachment.removed_at.is_(None))
    return list(session.scalars(query.order_by(Attachment.id)))


def readable(session: Session, user: User, attachment_id: int) -> Attachment:
    """A file of an item the user may see, removed or not (the history names removed ones too), or of a
    submission they raised or triage (still theirs to read after it became an item's). Else: none."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is not None and (
        _visible_item(session, user, attachment) is not None
        or (attachment.submission_id is not None and submissions.reads_files(session, user, attachment.submission_id))
    ):
        return attachment
    raise NotFound(f"附件不存在 No file {attachment_id}")


def _visible_item(session: Session, user: User, attachment: Attachment) -> int | None:
    """The id of the item the file is evidence of, when the user may see that item."""
    if attachment.item_id is None:
        return None
    try:
        return items.get_visible(session, user, attachment.item_id).id
    except NotFound:
        return None


def require_removable(session: Session, user: User, attachment: Attachment, item: Item) -> Task | None:
    """Whether ``user`` may remove ``attachment`` of ``item`` now (a page offers its button by this); its task."""
    if attachment.uploaded_by_id != user.id:
        raise Forbidden("只有上传人可以删除此文件 Only the person who uploaded a file may remove it")
    task = session.get(Task, attachment.task_id) if attachment.task_id is not None else None
    if _closed(item) or (task is not None and task.state not in OPEN_TASK_STATES):
        raise EvidenceLocked()
    return task


def remove(session: Session, user: User, attachment_id: int) -> Attachment:
    """Removed by its uploader while the task it came for is open (and the item not closed): a mark, not a delete."""
    attachment = session.get(Attachment, attachment_id)
    # Only on the item: a submission's reader who may not see the item it became removes nothing of it.
    item_id = _visible_item(session, user, attachment) if attachment is not None else None
    if attachment is None or attachment.removed_at is not None or item_id is None:
        raise NotFound(f"附件不存在 No file {attachment_id}")
    item = lock_item(session, item_id)
    task = require_removable(session, user, attachment, item)
    attachment.removed_at = utcnow()
    attachment.removed_by_id = user.id
    _record(session, item, user, "attachment_removed", attachment, task)
    return attachment
