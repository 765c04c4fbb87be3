"""The designer's version list: deploy a bundle with a note from the page, retire the old version, see it listed."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import RECTIFY_FORMS
from tests.web.pages.conftest import Site
from tests.web.test_processes_api import redesigned


def test_a_designer_deploys_a_version_with_a_note_and_retires_the_old_one(site: Site) -> None:
    page = site.page
    site.login("designer")
    site.visit("/designer")
    files = [
        {"name": "rectification_item.bpmn", "mimeType": "application/xml", "buffer": redesigned()},
        *({"name": key, "mimeType": "application/json", "buffer": data} for key, data in RECTIFY_FORMS.items()),
    ]

    # Without the forms the diagram names, the page says which one is missing, beside the files.
    page.set_input_files("#files", files[:1])
    page.fill("#note", "新增现场核查")
    page.click("form.deploy-bundle button[type=submit]")
    expect(page.locator(".field.invalid")).to_contain_text("define_measures.json")
    expect(page.locator("#note")).to_have_value("新增现场核查")

    page.set_input_files("#files", files)
    page.click("form.deploy-bundle button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("rectification_item")
    process = page.locator('section[data-process="rectification_item"]')
    latest = process.locator('tr[data-version="2"]')
    expect(latest).to_contain_text("新增现场核查")
    expect(latest).to_contain_text("designer")

    old = process.locator('tr[data-version="1"]')
    old.get_by_role("button", name="停用此版本").click()
    expect(process.locator('tr[data-version="1"]')).to_contain_text("已停用")
    expect(process.locator('tr[data-version="1"]').get_by_role("button", name="恢复")).to_be_visible()
    process.locator('tr[data-version="2"]').get_by_role("button", name="设为默认").click()
    expect(process.locator('tr[data-version="2"]')).to_contain_text("默认")
    expect(process).to_contain_text("新事项使用默认版本 v2")
    site.shot("11-designer-versions")
