"""The history's key: what makes its hashes unforgeable by someone who can only write to the database.

The key is ``RECTIFLOW_AUDIT_KEY`` when set, else the file ``<instance>/audit.key`` (64 hex
characters, mode 0600) that ``rectiflow init`` makes once. It is never stored in the database and
never exported: whoever restores a backup, on any machine, needs the same key. Sessions carry it
(``make_session_factory(engine, audit_key=...)``); nothing records or verifies history without it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from engine.store.config import Settings
from engine.store.db import AUDIT_KEY
from engine.store.errors import AuditKeyMissing

FILE = "audit.key"
MIN_LENGTH = 32


def path(settings: Settings) -> Path:
    return settings.instance_path / FILE


def load(settings: Settings) -> bytes:
    """The configured key; refused when there is none (never a silent default) or it is too short."""
    text = settings.audit_key
    if text is None:
        try:
            text = path(settings).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise AuditKeyMissing(
                f"没有审计密钥 No audit key: set RECTIFLOW_AUDIT_KEY, or run `rectiflow init` to make "
                f"{path(settings)} (restoring another instance's backup: use that instance's key)"
            ) from None
    if len(text) < MIN_LENGTH:
        raise AuditKeyMissing(f"审计密钥太短 The audit key must have at least {MIN_LENGTH} characters")
    return text.encode("utf-8")


def create(settings: Settings) -> Path | None:
    """Make ``<instance>/audit.key`` unless a key is configured or the file exists; returns the new file."""
    target = path(settings)
    if settings.audit_key is not None or target.exists():
        return None
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two racing `init`s never overwrite each other's key.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secrets.token_hex(32) + "\n")
    return target


def of(session: Session) -> bytes:
    """The key the session was made with."""
    key = session.info.get(AUDIT_KEY)
    if not isinstance(key, bytes):
        raise AuditKeyMissing()
    return key
