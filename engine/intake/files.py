"""A submission's files: received with it (at most :data:`MAX_FILES`), each checked as evidence is, and made
the item's evidence when triage accepts or merges the submission.

All of a submission's files are received and checked before any is stored, so one refused file refuses
the whole submission and leaves nothing behind. The caller owns the session (and commits).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.evidence import attachments
from engine.evidence.storage import FileStore
from engine.store.config import EvidenceSettings
from engine.store.errors import InvalidInput
from engine.store.models import Attachment, Item, Submission, User

MAX_FILES = 5


@dataclass(frozen=True)
class Upload:
    """A file as it came with the submission: its bytes and the name the sender gave it."""

    stream: BinaryIO
    filename: str


def check_count(uploads: list[Upload]) -> None:
    """Refused before a byte is read: more files than a submission carries."""
    if len(uploads) > MAX_FILES:
        message = f"最多 {MAX_FILES} 个附件 At most {MAX_FILES} files come with a submission"
        raise InvalidInput(message, errors=[{"field": "files", "message": message}])


def attach(
    session: Session,
    submission: Submission,
    uploads: list[Upload],
    limits: EvidenceSettings,
    store: FileStore,
) -> list[Attachment]:
    """Store ``uploads`` as the files of ``submission`` (just raised, flushed); any refusal stores none."""
    check_count(uploads)
    with ExitStack() as spools:
        checked = []
        for upload in uploads:
            received = spools.enter_context(attachments.receive(upload.stream, limits.max_file_bytes))
            checked.append((received, *attachments.accepted(received, upload.filename)))
        rows = [
            attachments.kept(store, received, name, media_type, submission.raised_by_id, submission_id=submission.id)
            for received, name, media_type in checked
        ]
    session.add_all(rows)
    session.flush()
    return rows


def of(session: Session, submission_id: int) -> list[Attachment]:
    query = select(Attachment).where(Attachment.submission_id == submission_id, Attachment.removed_at.is_(None))
    return list(session.scalars(query.order_by(Attachment.id)))


def require_room(session: Session, submission: Submission, item: Item | None, limits: EvidenceSettings) -> None:
    """Before triage changes anything: the submission's files fit within the limits of ``item`` (None: a new one),
    as an upload must; else 413 naming ``files``."""
    sizes = [found.size for found in of(session, submission.id)]
    attachments.check_room(session, item, sizes, limits, "files")


def adopt(session: Session, actor: User, submission: Submission, item: Item) -> None:
    """Triage made (or joined) ``item`` from ``submission`` (``require_room`` passed): its files become the item's
    evidence, each an event."""
    for found in of(session, submission.id):
        if found.item_id is None:
            attachments.adopt(session, actor, found, item, submission=submission.id)
