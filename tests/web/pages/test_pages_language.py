"""Chinese first, English on request; every page string has its English; forms carry a CSRF token."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import workflow
from engine.store.config import REPO_ROOT
from engine.store.db import transaction

PASSWORD = "correct horse battery staple"
CATALOGUE = REPO_ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def test_every_page_string_has_its_english() -> None:
    method_map = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
    found = {message for _file, _line, message, _comments, _context in extract_from_dir(REPO_ROOT, method_map)}
    with Path(CATALOGUE).open("rb") as source:
        english = {m.id: m.string for m in read_po(source) if m.id}
    untranslated = sorted(m for m in found if isinstance(m, str) and not english.get(m))
    assert untranslated == []


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def log_in(client: FlaskClient) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": "li", "password": PASSWORD})
    assert response.status_code == 302


def test_chinese_by_default_english_when_chosen_with_dates_to_match(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_user(session, "li", "office", ["reporter", "approver"], password=PASSWORD)
        new = workflow.NewItem(title="窗口排队", department="office", deadline=dt.date(2026, 12, 31))
        item = workflow.create_item(session, identity.user_by_username(session, "li"), new, "Asia/Shanghai")
    # Chinese first, even for a browser that asks for English.
    assert "用户名" in client.get("/login", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    log_in(client)
    page = client.get(f"/items/{item.id}", follow_redirects=True).get_data(as_text=True)
    assert "整改时限" in page and "2026年12月31日" in page

    client.get("/language/en")
    page = client.get(f"/items/{item.id}", follow_redirects=True).get_data(as_text=True)
    assert "Deadline" in page and "2026-12-31" in page and "2026年12月31日" not in page


def test_a_form_posted_without_its_csrf_token_is_refused(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_user(session, "li", "office", ["reporter"], password=PASSWORD)
    assert client.post("/login", data={"username": "li", "password": PASSWORD}).status_code == 400
    log_in(client)
    forged = client.post("/ledger/new", data={"title": "伪造", "department": "office"})
    assert forged.status_code == 400
    assert "伪造" not in client.get("/ledger").get_data(as_text=True)
