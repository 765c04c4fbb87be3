"""The form editor beside the modeler in Chromium: a field and a conditional requirement added to a user
task's form, seen in the live preview, deployed with the diagram, and asked for on the new version's task page."""

from __future__ import annotations

import io
import json
import zipfile

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_designer_modeler import open_modeler
from tests.web.pages.test_pages_review import TITLE, open_task, rectified_item, submit


def test_a_field_required_on_reject_is_edited_previewed_deployed_and_asked_for(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = open_modeler(site)
    page.locator('[data-element-id="review"]').click()
    expect(page.locator("[data-form-key]")).to_have_text("review.json")
    preview = page.locator("[data-form-preview]")
    expect(preview.locator("label[for=f-decision]")).to_have_text("审核结论 *")

    page.get_by_role("button", name="添加字段").click()  # after decision, comment and mechanism
    page.fill('[name="root[fields][3][key]"]', "reason")
    page.fill('[name="root[fields][3][title_zh]"]', "退回原因")
    page.fill('[name="root[fields][3][title_en]"]', "Reason for return")
    page.select_option('[name="root[fields][3][kind]"]', "textarea")
    page.get_by_role("button", name="添加条件").click()
    page.select_option('[name="root[conditions][1][field]"]', "reason")
    page.select_option('[name="root[conditions][1][when]"]', "decision")
    page.fill('[name="root[conditions][1][equals]"]', "reject")
    page.press('[name="root[conditions][1][equals]"]', "Tab")
    expect(preview.locator("textarea[name=reason]")).to_be_visible()
    expect(preview.locator("label[for=f-reason]")).to_have_text("退回原因")  # required on reject only: no mark
    site.shot("14-designer-form-editor")

    page.click("[data-deploy]")
    page.wait_for_url("**/designer/rectification_item/2")
    bundle = zipfile.ZipFile(io.BytesIO(page.request.get(site.url("/designer/rectification_item/2.zip")).body()))
    form = json.loads(bundle.read("forms/review.json"))
    assert list(form["properties"]) == ["decision", "comment", "mechanism", "reason"]
    assert form["properties"]["reason"] == {"type": "string", "title": "退回原因 Reason for return", "maxLength": 5000}
    assert form["if"] == {"properties": {"decision": {"const": "reject"}}, "required": ["decision"]}
    assert form["then"]["required"] == ["comment", "reason"]

    rectified_item(sessions)  # a new item: on version 2, the latest
    site.login("approver")
    open_task(site, TITLE)
    page.check("input[name=decision][value=reject]")
    page.fill("textarea[name=comment]", "照片不清楚")
    submit(site)
    reason = page.locator(".field", has=page.locator("textarea[name=reason]"))
    expect(reason.locator(".error")).to_be_visible()
