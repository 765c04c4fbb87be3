"""The designer page: a refused deployment lists every problem, each with its element, and marks each element."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.pages.conftest import Site

# Two errors at once in the shipped diagram: a form that does not exist, a lane whose rule is unknown.
BREAK = """async () => {
  const { xml } = await window.rectiflowModeler.saveXML();
  const broken = xml
    .replace('camunda:formKey="rectify.json"', 'camunda:formKey="nope.json"')
    .replace('value="approvers"', 'value="bosses"');
  await window.rectiflowModeler.importXML(broken);
}"""


def test_a_refused_deployment_lists_every_problem_with_its_element(site: Site) -> None:
    page = site.page
    site.login("designer")
    site.visit("/designer/rectification_item/1")
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    page.evaluate(BREAK)
    page.click("[data-deploy]")
    status = page.locator("[data-status]")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("2 problems")
    expect(status).to_contain_text("- rectify: 流程包中没有表单")
    expect(status).to_contain_text("- reviewer: 泳道的处理人规则未知")
    for element in ("rectify", "reviewer"):
        expect(page.locator(f'.djs-element[data-element-id="{element}"]')).to_have_class(re.compile("rf-invalid"))
    assert page.url.endswith("/designer/rectification_item/1")  # nothing deployed, nowhere to go
    # The browser logs the refusal's 422 itself; nothing else may have been logged.
    assert [message for message in site.console_errors if "status of 422" not in message] == []
    site.console_errors.clear()
