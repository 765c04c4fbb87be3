"""The inbox and ledger pages of long lists, without a browser: a page at a time, the total, links on."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import workflow
from engine.items.items import INBOX_PAGE
from engine.store.db import transaction
from tests.web.pages.test_pages_migration_forms import log_in, page, said


def test_a_long_inbox_is_shown_a_page_at_a_time(app: Flask, sessions: sessionmaker[Session], cast: None) -> None:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        for n in range(INBOX_PAGE + 2):
            workflow.create_item(session, reporter, workflow.NewItem(title=f"问题 {n:02d}", department="office"), "UTC")
    manager = log_in(app, "manager")

    first = page(manager, "/inbox")
    assert said(first, "//h1/small") == [str(INBOX_PAGE + 2)]
    titles = said(first, "//table[contains(@class, 'inbox')]//td[@class='title']")
    assert titles == [f"问题 {n:02d}" for n in range(INBOX_PAGE)]  # the oldest first
    assert said(first, "//nav[@class='pages']/span") == ["第 1 / 2 页"]
    assert first.xpath("//nav[@class='pages']/a[@rel='next']/@href") == ["/inbox?page=2"]

    second = page(manager, "/inbox?page=2")
    assert said(second, "//td[@class='title']") == [f"问题 {n:02d}" for n in (INBOX_PAGE, INBOX_PAGE + 1)]
    assert second.xpath("//nav[@class='pages']/a/@rel") == ["prev"]
    # A page number that is none (an edited link) shows the first page, not an error.
    assert said(page(manager, "/inbox?page=x"), "//nav[@class='pages']/span") == ["第 1 / 2 页"]


def test_the_ledger_pages_keep_the_filters_in_their_links(
    app: Flask, sessions: sessionmaker[Session], cast: None
) -> None:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        for n in range(5):
            workflow.create_item(session, reporter, workflow.NewItem(title=f"问题 {n}", department="office"), "UTC")
    auditor = log_in(app, "auditor")

    second = page(auditor, "/ledger?q=问题&per_page=2&page=2")
    assert said(second, "//nav[@class='pages']/span") == ["第 2 / 3 页"]
    links = {link.get("rel"): link.get("href") for link in second.xpath("//nav[@class='pages']/a")}
    assert set(links) == {"prev", "next"}
    assert "page=3" in links["next"] and "per_page=2" in links["next"] and "q=" in links["next"]
    assert "page=1" in links["prev"]
    assert said(page(auditor, "/ledger?per_page=20"), "//nav[@class='pages']") == []  # one page: no pager
