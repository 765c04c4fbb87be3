"""Intake journey in Chromium: an admin opens the public form, the public raises a problem, a unit's manager
accepts it into an item, and the public status page then shows the item's status."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.pages.conftest import Site

HOSTILE = "<b>路灯</b>不亮<script>document.title='x'</script>\n东门外三盏路灯坏了"


def test_a_public_submission_becomes_an_item_whose_status_the_public_sees(site: Site) -> None:
    closed = site.page.request.get(site.url("/intake"))
    assert closed.status == 404 and "公众反映渠道未开放" in closed.text()  # closed until an admin opens it

    site.login("admin")
    page = site.visit("/admin")
    page.click("#public-intake-switch")
    expect(page.locator("#public-intake-state")).to_contain_text("已开放")

    page.context.clear_cookies()  # the public: nobody signed in
    page = site.visit("/intake")
    page.fill("#text", HOSTILE)
    page.select_option("#source", "群众反映")
    page.select_option("#department", "works")
    page.fill("#contact", "138 0000 0000")
    page.click("button[type=submit]")
    receipt = page.locator("#receipt").inner_text()
    assert len(receipt) >= 20
    page.click("#status-link")
    expect(page.locator("#outcome-status")).to_have_text("待处理")
    expect(page.locator("#item-status")).to_have_count(0)

    site.login("works_manager")
    page = site.visit("/submissions/queue")
    card = page.locator("section.submission").first
    expect(card.locator("pre.text")).to_have_text(HOSTILE)  # shown as typed: no markup, no script ran
    assert page.title() != "x"
    card.locator("summary", has_text="受理立项").click()
    expect(card.locator("input[name=title]")).to_have_value("<b>路灯</b>不亮<script>document.title='x'</script>")
    card.locator("input[name=title]").fill("东门路灯不亮")
    card.locator("form button.primary").click()
    expect(page.locator(".flash")).to_contain_text("已处理反映")
    site.shot("intake-queue")

    page = site.visit("/submissions/queue?status=accepted")
    page.locator("section.submission a").first.click()
    expect(page.locator("h1")).to_contain_text("东门路灯不亮")
    status = page.locator(".status").first.inner_text()

    page.context.clear_cookies()
    page = site.visit(f"/intake/status/{receipt}")
    expect(page.locator("#outcome-status")).to_have_text("已立项")
    expect(page.locator("#item-status")).to_have_text(status)
    expect(page.locator("main")).not_to_contain_text("works_manager")
    site.shot("intake-public-status")
