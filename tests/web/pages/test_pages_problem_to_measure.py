"""The whole of issue 13 in one Chromium journey, in Chinese: the public raises a problem through the open form,
the unit's manager accepts it into an item, the owner rectifies it with a photo, the approver sees the photo,
proposes a measure from the review and closes the item with it; the library and the public status page agree."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_evidence import file, png, upload
from tests.web.pages.test_pages_review import open_task, submit

PROBLEM = "东门外三盏路灯不亮\n夜里行人看不清台阶"
TITLE = "东门外三盏路灯不亮"
MEASURE = "路灯月度巡检制度"


def test_a_public_problem_is_triaged_rectified_with_a_photo_and_closed_with_a_measure(site: Site) -> None:
    page = site.page

    # An admin opens the public form.
    site.login("admin")
    site.visit("/admin")
    page.click("#public-intake-switch")
    expect(page.locator("#public-intake-state")).to_contain_text("已开放")

    # The public, nobody signed in, raises the problem and keeps the receipt.
    page.context.clear_cookies()
    site.visit("/intake")
    page.fill("#text", PROBLEM)
    page.select_option("#source", "群众反映")
    page.select_option("#department", "office")
    page.click("button[type=submit]")
    receipt = page.locator("#receipt").inner_text()
    assert len(receipt) >= 20
    site.visit(f"/intake/status/{receipt}")
    expect(page.locator("#outcome-status")).to_have_text("待处理")

    # The office's manager accepts it into an item from 待处理反映, then defines measures and names the owner.
    site.login("manager")
    site.visit("/submissions/queue")
    card = page.locator("section.submission", has_text=TITLE)
    expect(card.locator("pre.text")).to_have_text(PROBLEM)
    card.locator("summary", has_text="受理立项").click()
    expect(card.locator("input[name=title]")).to_have_value(TITLE)
    card.locator("form button.primary").click()
    expect(page.locator(".flash")).to_contain_text("已处理反映")
    site.visit("/submissions/queue?status=accepted")
    page.locator("section.submission", has_text=TITLE).get_by_role("link").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_contain_text(TITLE)
    item_path = re.sub(r"^https?://[^/]+", "", page.url)

    open_task(site, TITLE)
    expect(page.locator(".task-form h2")).to_have_text("制定整改措施")
    page.fill("#f-measures", "更换灯具，每月巡检一次")
    submit(site)
    open_task(site, TITLE)
    expect(page.locator(".task-form h2")).to_have_text("明确责任人")
    page.check("input[name=owner][value=owner]")
    submit(site)

    # The owner rectifies it with a photo uploaded and ticked in the form.
    site.login("owner")
    open_task(site, TITLE)
    expect(page.locator(".task-form h2")).to_have_text("整改落实")
    upload(page, ".task-form", file("路灯修复.png", png(), "image/png"))
    expect(page.locator(".task-form [data-evidence-upload] .upload-status")).to_have_text("上传完成：路灯修复.png")
    # A file uploaded here is listed as a box of the evidence field, ticked already.
    expect(page.locator("#f-evidence_files label.choice", has_text="路灯修复.png").locator("input")).to_be_checked()
    page.fill("#f-result", "三盏路灯已更换")
    submit(site)
    assert page.url.endswith("/inbox"), page.inner_text("main")

    # The approver sees the photo drawn, proposes a measure from the review, and closes the item with it.
    site.login("approver")
    open_task(site, TITLE)
    expect(page.locator(".task-form h2")).to_have_text("审核验收")
    photo = page.locator("section.judged .judged-files .evidence-file").first
    expect(photo.locator("a.name")).to_have_text("路灯修复.png")
    expect(photo.locator("img")).to_be_visible()
    assert photo.locator("img").evaluate("img => img.complete && img.naturalWidth") == 24
    page.click("#propose-measure")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".from-item")).to_contain_text(TITLE)
    page.fill("#title", MEASURE)
    page.select_option("#kind", "rule")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".flash")).to_contain_text(f"已提出制度性措施“{MEASURE}”")
    page.check("input[name=decision][value=approve]")
    page.check("input[name=mechanism][value=measure_adopted]")
    submit(site)
    assert page.url.endswith("/inbox"), page.inner_text("main")

    site.visit(item_path)
    expect(page.locator(".status").first).to_have_text("已销号")
    expect(page.locator("#lasting .mechanism")).to_have_text("已建立长效机制")
    expect(page.locator("#lasting .measures")).to_contain_text(MEASURE)
    expect(page.locator("section.evidence a.name")).to_have_text("路灯修复.png")

    # The library lists the measure, linked to the item it came from.
    site.visit("/measures")
    page.fill("#f-q", "路灯")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#measures tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name=MEASURE).click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#measure-items")).to_contain_text(TITLE)
    site.shot("problem-to-measure-library")

    # The public, by the receipt, sees that its problem became an item and that the item is closed.
    page.context.clear_cookies()
    site.visit(f"/intake/status/{receipt}")
    expect(page.locator("#outcome-status")).to_have_text("已立项")
    expect(page.locator("#item-status")).to_have_text("已销号")
    expect(page.locator("main")).not_to_contain_text("approver")
    site.shot("problem-to-measure-public-status")
