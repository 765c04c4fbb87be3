"""The measures library in Chromium: an approver reviewing an item proposes a measure from it, closes the item
with 已建立长效机制, and the library shows the measure linked to the item; hostile text stays text."""

from __future__ import annotations

import io

from flask import Flask
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import workflow
from engine.measures import catalog
from engine.store.db import transaction
from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_language import csrf
from tests.web.pages.test_pages_migration_forms import log_in
from tests.web.pages.test_pages_review import TITLE, open_task, rectified_item, submit

HOSTILE = '<img src=x onerror="alert(1)">每日巡查取号机'


def test_an_approver_proposes_a_measure_from_the_review_and_closes_with_it(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = rectified_item(sessions)

    site.login("approver")
    open_task(site, TITLE)
    page.click("#propose-measure")
    page.wait_for_load_state("networkidle")
    # Prefilled from the item: its title and unit; linked to it.
    expect(page.locator("#title")).to_have_value(TITLE)
    expect(page.locator("#department")).to_have_value("office")
    expect(page.locator(".from-item")).to_contain_text(TITLE)
    page.fill("#title", "窗口取号管理清单")
    page.select_option("#kind", "checklist")
    page.fill("#summary", HOSTILE)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")

    # Back on the review, which closes the item noting the lasting mechanism.
    expect(page.locator(".flash")).to_contain_text("已提出制度性措施“窗口取号管理清单”")
    page.check("input[name=decision][value=approve]")
    page.check("input[name=mechanism][value=measure_adopted]")
    submit(site)
    assert site.page.url.endswith("/inbox"), page.url

    site.visit(f"/items/{item_id}")
    expect(page.locator("#lasting .mechanism")).to_have_text("已建立长效机制")
    expect(page.locator("#lasting .measures")).to_contain_text("窗口取号管理清单 · 清单 · 草案")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("关联了制度性措施“窗口取号管理清单”")
    expect(timeline).to_contain_text("已建立长效机制")

    site.visit("/measures")
    page.fill("#f-q", "取号")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#measures tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("窗口取号管理清单")
    rows.first.get_by_role("link").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#measure-items")).to_contain_text(TITLE)
    # The summary is shown as the text it is, never as markup.
    expect(page.locator("#measure-facts .summary")).to_have_text(HOSTILE)
    assert page.locator("#measure-facts img").count() == 0

    page.click("#to-in_force")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#measure-facts")).to_contain_text("施行")
    site.visit("/reports/monthly")
    expect(page.locator("#adopted-measures")).to_contain_text("窗口取号管理清单")
    expect(page.locator("#lasting-units tfoot")).to_contain_text("1")
    site.shot("measures-library")


def test_a_member_sees_the_library_but_no_propose_form(site: Site, sessions: sessionmaker[Session]) -> None:
    rectified_item(sessions)
    site.login("owner")
    page = site.visit("/measures")
    expect(page.locator("h1")).to_have_text("制度库")
    assert page.locator("#propose").count() == 0
    # A form posted anyway is refused and makes nothing.
    token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    form = {"csrf_token": token, "title": "越权提出", "kind": "rule", "department": "office"}
    assert page.request.post(site.url("/measures/new"), form=form, max_redirects=0).status == 403
    site.visit("/measures")
    expect(page.locator(".empty")).to_have_text("没有符合条件的制度性措施。")


def test_the_document_of_a_measure_downloads_for_every_reader_of_the_library(
    app: Flask, cast: None, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item = workflow.create_item(
            session, reporter, workflow.NewItem(title="档案室无巡查", department="office"), "UTC"
        )
        item_id = item.id
    manager = log_in(app, "manager")
    token = csrf(manager.get(f"/items/{item_id}", follow_redirects=True).get_data(as_text=True))
    text = "档案室每周巡查一次，记录在册。\n".encode()
    uploaded = manager.post(
        f"/items/{item_id}/files",
        data={"csrf_token": token, "file": (io.BytesIO(text), "=巡查制度.txt")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_data(as_text=True)
    with transaction(sessions) as session:
        measure = catalog.propose(
            session,
            identity.user_by_username(session, "manager"),
            catalog.NewMeasure(title="档案室巡查制度", kind="rule", department="office", items=(item_id,)),
        )
        catalog.set_document(session, identity.user_by_username(session, "manager"), measure.id, uploaded.json["id"])
        measure_id = measure.id

    # A member of another unit may not see the item, but reads the library and the measure's document.
    outsider = log_in(app, "outsider")
    assert outsider.get(f"/files/{uploaded.json['id']}").status_code == 404
    shown = outsider.get(f"/measures/{measure_id}").get_data(as_text=True)
    assert f'href="/measures/{measure_id}/document"' in shown
    document = outsider.get(f"/measures/{measure_id}/document")
    assert (document.status_code, document.data) == (200, text)
    assert document.headers["Content-Disposition"].startswith("attachment")
    assert document.headers["X-Content-Type-Options"] == "nosniff"
    assert outsider.get("/measures/999999/document").status_code == 404
