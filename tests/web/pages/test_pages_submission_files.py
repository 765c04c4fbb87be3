"""我要反映 and the public form with files: sent with the form, listed for the submitter and the triagers with a
download link, refused whole (and nothing kept) when one file is not accepted."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.intake import public
from engine.store.db import transaction
from tests.engine.evidence import samples
from tests.web.pages.test_pages_language import csrf
from tests.web.pages.test_pages_migration_forms import log_in

FORM = {"kind": "problem", "text": "食堂排队太久", "source": "群众反映", "department": "works", "contact": ""}


def form_fields(client: FlaskClient, path: str) -> dict[str, Any]:
    shown = client.get(path, follow_redirects=True).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in shown and 'name="files"' in shown
    once = re.search(r'name="once_token" value="([^"]+)"', shown)
    return {"csrf_token": csrf(shown), **({"once_token": once.group(1)} if once else {}), **FORM}


def links(client: FlaskClient, path: str) -> list[str]:
    return re.findall(r'<a href="(/files/\d+)">([^<]+)</a>', client.get(path).get_data(as_text=True))


def test_a_signed_in_submission_carries_a_file_its_triager_downloads(
    app: Flask, cast: None, sessions: sessionmaker[Session]
) -> None:
    owner = log_in(app, "owner")
    data = {**form_fields(owner, "/submissions/new"), "files": [(io.BytesIO(samples.PDF), "照片说明.pdf")]}
    sent = owner.post("/submissions/new", data=data, content_type="multipart/form-data")
    assert sent.status_code == 302, sent.get_data(as_text=True)
    [(url, name)] = links(owner, "/submissions/mine")
    assert name == "照片说明.pdf"
    manager = log_in(app, "works_manager")
    assert links(manager, "/submissions/queue") == [(url, name)]
    got = manager.get(url)
    assert (got.status_code, got.data) == (200, samples.PDF)
    assert log_in(app, "outsider").get(url).status_code == 404


def test_the_public_form_takes_a_file_and_refuses_a_wrong_one_whole(
    app: Flask, cast: None, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        public.set_enabled(session, identity.user_by_username(session, "admin"), True)
    visitor = app.test_client()
    refused = visitor.post(
        "/intake",
        data={**form_fields(visitor, "/intake"), "files": [(io.BytesIO(samples.EXE), "报告.pdf")]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 415 and "不支持的文件类型" in refused.get_data(as_text=True)
    assert not (tmp_path / "files").exists() or not any(p.is_file() for p in (tmp_path / "files").rglob("*"))

    sent = visitor.post(
        "/intake",
        data={**form_fields(visitor, "/intake"), "files": [(io.BytesIO(samples.PNG), "现场.png")]},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200 and "回执" in sent.get_data(as_text=True)
    [(url, name)] = links(log_in(app, "reporter"), "/submissions/queue")
    assert name == "现场.png" and visitor.get(url).status_code == 302
