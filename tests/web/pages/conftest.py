"""Browser tests: Debian's Chromium driven by Playwright against a real ``rectiflow serve`` on loopback.

Each test gets a server over its own emptied database, the cast with passwords, and a browser page
that records console errors; ``visit`` fails a test whose page logged one. Screenshots go to
``build/screenshots`` (or ``RECTIFLOW_SCREENSHOTS``).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity, passwords
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.conftest import CAST, serve

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
SHOTS = Path(os.environ.get("RECTIFLOW_SCREENSHOTS", REPO_ROOT / "build" / "screenshots"))
# Flags for a closed network: no background connections Chromium would make at start.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: 'make test' installs Debian's chromium when run as root")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    yield browser
    browser.close()


@dataclass
class Site:
    """The server under test and a browser page on it, noting every console error."""

    base: str
    page: Page
    console_errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def visit(self, path: str) -> Page:
        self.page.goto(self.url(path))
        self.page.wait_for_load_state("networkidle")
        return self.page

    def login(self, username: str) -> None:
        self.page.context.clear_cookies()  # a fresh browser session for each person
        self.visit("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        assert "/login" not in self.page.url, self.page.inner_text("main")

    def workbook(self, link: Locator) -> Workbook:
        """Click ``link`` and read what it downloads as a workbook."""
        with self.page.expect_download() as download:
            link.click()
        return load_workbook(BytesIO(download.value.path().read_bytes()))

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def cast(sessions: sessionmaker[Session]) -> None:
    """The test cast (see tests/conftest.py), each with the same password (one real argon2 hash of it)."""
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_department(session, "works", "工务科")
        for username, (department, roles) in CAST.items():
            identity.add_user(session, username, department, roles).password_hash = password_hash()


@functools.cache
def password_hash() -> str:
    """Made once a process: a hash costs ~0.2 s (64 MiB, by design), and eleven a test added minutes to the run.
    Logging in still verifies the password against it."""
    return passwords.hash_password(PASSWORD)


@pytest.fixture
def site_env() -> dict[str, str]:
    """More ``RECTIFLOW_*`` variables for the server under test: a test module overrides this fixture."""
    return {}


@pytest.fixture
def site(
    browser: Browser,
    database_url: str,
    sessions: sessionmaker[Session],
    cast: None,
    tmp_path: Path,
    site_env: dict[str, str],
) -> Iterator[Site]:
    with serve(database_url, tmp_path, {"RECTIFLOW_COOKIE_SECURE": "false", **site_env}) as base:
        context = browser.new_context(base_url=base, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        site = Site(base, page)

        def note(message: ConsoleMessage) -> None:
            if message.type == "error":
                site.console_errors.append(f"{page.url}: {message.text}")

        page.on("console", note)
        page.on("pageerror", lambda error: site.console_errors.append(f"{page.url}: {error}"))
        yield site
        context.close()
        assert site.console_errors == [], "pages logged console errors"
