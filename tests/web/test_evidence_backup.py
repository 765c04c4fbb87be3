"""A backup carries the evidence files; a restore puts them back only when each hashes to its name."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from engine.audit import backup
from engine.evidence import storage
from engine.store.db import make_engine
from engine.store.errors import BackupRefused
from tests.conftest import AUDIT_KEY, People
from tests.engine.evidence import samples
from tests.web.test_attachments_api import create, upload

KEY = AUDIT_KEY.encode()


def test_a_backup_restores_with_its_files(
    client: FlaskClient, people: People, db_engine: Engine, tmp_path: Path
) -> None:
    item = create(client, people)
    added = upload(client, people, item["id"], samples.PDF, "会议纪要.pdf", "reporter").json
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump, storage.LocalStore(tmp_path / "files"))

    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    restored_files = storage.LocalStore(tmp_path / "restored")
    restored = backup.restore(target, dump, KEY, restored_files)

    assert restored.summary.counts["attachment"] == 1
    assert restored.verified.ok and restored.verified.files_checked == 1
    assert b"".join(storage.chunks(restored_files.open(added["sha256"]))) == samples.PDF
    target.dispose()


def test_a_backup_whose_file_was_altered_is_refused(
    client: FlaskClient, people: People, db_engine: Engine, tmp_path: Path
) -> None:
    item = create(client, people)
    upload(client, people, item["id"], samples.PNG, "照片.png", "reporter")
    dump = tmp_path / "rectiflow.backup.gz"
    backup.export(db_engine, dump, storage.LocalStore(tmp_path / "files"))
    with gzip.open(dump, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    for row in rows:
        if isinstance(row, list) and row[0] == "@file":
            row[2] = base64.b64encode(b"\x89PNG another picture").decode()
    with gzip.open(dump, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    with pytest.raises(BackupRefused, match="does not match its hash"):
        backup.restore(target, dump, KEY, storage.LocalStore(tmp_path / "restored"))
    target.dispose()
