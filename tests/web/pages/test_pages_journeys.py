"""Each kind of user walks their journey in a real browser, in Chinese, against the real server."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.ledger import demo
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.web.pages.conftest import PASSWORD, Site

HOSTILE = "<script>alert(1)</script> 窗口排队时间长"


def open_first_task(site: Site, step: str) -> None:
    site.visit("/inbox")
    site.page.get_by_role("link", name=re.compile("窗口排队")).first.click()
    expect(site.page.locator(".task-form h2")).to_have_text(step)


def submit(site: Site) -> None:
    site.page.click(".task-form button[type=submit]")
    site.page.wait_for_load_state("networkidle")


def test_an_item_from_raising_through_a_rejection_to_close_out(site: Site) -> None:
    page = site.page
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    site.login("reporter")
    site.visit("/ledger/new")
    page.fill("#title", HOSTILE)
    page.select_option("#source", "群众反映")
    page.select_option("#department", "office")
    page.fill("#deadline", "2026-12-31")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text(HOSTILE)  # the title is text, never markup
    site.shot("01-reporter-raised")

    site.login("manager")
    expect(page.locator("table.inbox tbody tr")).to_have_count(1)
    site.shot("02-manager-inbox")
    open_first_task(site, "制定整改措施")
    page.fill("#f-measures", "增设自助取号机，高峰时段增开窗口")
    submit(site)
    open_first_task(site, "明确责任人")
    page.check("input[name=owner][value=owner]")
    submit(site)

    site.login("owner")
    open_first_task(site, "整改落实")
    page.fill("#f-result", "已增设两台取号机")
    submit(site)

    site.login("approver")
    open_first_task(site, "审核验收")
    page.check("input[name=decision][value=reject]")
    submit(site)  # a rejection needs a reason: the form says so beside the field
    expect(page.locator(".field.invalid .error")).to_contain_text("必填")
    site.shot("03-approver-reason-required")
    page.check("input[name=decision][value=reject]")
    page.fill("#f-comment", "缺少照片佐证")
    submit(site)

    site.login("owner")
    open_first_task(site, "整改落实")
    expect(page.locator(".timeline")).to_contain_text("缺少照片佐证")
    page.fill("#f-result", "已补充现场照片")
    submit(site)

    site.login("approver")
    open_first_task(site, "审核验收")
    page.check("input[name=decision][value=approve]")
    submit(site)
    expect(page.locator("table.inbox tbody tr")).to_have_count(0)

    site.login("auditor")
    site.visit("/ledger")
    page.get_by_role("link", name=HOSTILE).click()
    expect(page.locator(".status")).to_have_text("已销号")
    expect(page.locator("[data-verified=ok]")).to_be_visible()
    expect(page.locator(".timeline .reason")).to_have_text("缺少照片佐证")
    expect(page.locator("[data-bpmn-viewer][data-ready=true]")).to_be_visible()
    site.shot("04-auditor-timeline")
    assert alerts == []


def test_a_designer_relabels_a_step_and_new_items_run_on_version_2(site: Site) -> None:
    page = site.page
    site.login("designer")
    site.visit("/designer")
    process = page.locator("section.process", has=page.locator("code", has_text="rectification_item"))
    process.get_by_role("link", name="打开").first.click()
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    shape = page.locator('[data-element-id="define_measures"]')
    shape.dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    editor.press("Control+A")
    editor.type("拟定整改措施")
    page.locator("[data-canvas]").click(position={"x": 5, "y": 5})
    site.shot("05-designer-modeler")
    page.click("[data-validate]")
    expect(page.locator("[data-status]")).to_contain_text("校验通过")
    page.click("[data-deploy]")
    page.wait_for_url(re.compile(r"/designer/rectification_item/2$"))

    site.login("reporter")
    site.visit("/ledger/new")
    page.fill("#title", "新版本上的事项")
    page.select_option("#department", "office")
    page.click("main button[type=submit]")
    expect(page.locator("dl.facts")).to_contain_text("v2")
    expect(page.locator('[data-element-id="define_measures"]')).to_contain_text("拟定整改措施")


def test_the_sample_ledger_imports_its_40_items_and_exports_to_excel(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        demo.add_sample_people(session)
    page = site.page
    site.login("reporter")
    site.visit("/ledger/import")
    page.set_input_files("input[type=file]", str(REPO_ROOT / "demo" / "problem-list-sample.xlsx"))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/ledger/import/\w+$"))
    expect(page.locator("table.preview tbody tr")).to_have_count(40)
    expect(page.locator("table.preview tbody td.severity").nth(2)).to_have_text("严重")  # the sample's 严重程度
    site.shot("06-import-preview")
    page.get_by_role("button", name=re.compile("确认导入")).click()
    expect(page.locator("h1 small")).to_have_text("共 40 项")
    site.shot("07-ledger")

    sheet = site.workbook(page.get_by_role("link", name="导出 Excel")).active
    assert sheet is not None
    assert len(list(sheet.iter_rows(min_row=3))) == 40


def test_the_dashboard_draws_each_table_and_an_admin_manages_people(site: Site) -> None:
    page = site.page
    site.login("reporter")
    site.visit("/ledger/new")
    page.fill("#title", "逾期的事项")
    page.select_option("#department", "office")
    page.fill("#deadline", "2020-01-31")
    page.click("main button[type=submit]")

    site.login("approver")
    site.visit("/dashboard")
    expect(page.locator("[data-chart][data-ready=true]")).to_have_count(4)
    expect(page.locator("#t-units tbody tr").locator("th, td")).to_have_text(
        ["办公室", "0", "1", "0"]
    )  # 0 on time + 1 overdue = 1 open
    expect(page.locator("#t-ageing tbody tr").last).to_contain_text("1")  # overdue for years
    site.shot("08-dashboard")

    site.login("admin")
    site.visit("/admin")
    page.fill("#n-user", "wang")
    page.fill("#n-name", "王科长")
    page.select_option("#n-dept", "works")
    page.check(".add-user input[name=roles][value=manager]")
    page.fill("#n-pw", PASSWORD)
    page.click(".add-user button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("wang")
    expect(page.locator("table.users")).to_contain_text("王科长")
    site.shot("09-admin")

    site.login("wang")
    expect(page.locator(".me")).to_contain_text("王科长 · 工务科")


SMUGGLE = """
(() => {
  const modeler = window.rectiflowModeler;
  const flow = modeler.get("elementRegistry").filter((e) => e.businessObject.conditionExpression)[0];
  const body = "__import__('os').system('id')";
  const expression = modeler.get("moddle").create("bpmn:FormalExpression", { body });
  modeler.get("modeling").updateProperties(flow, { conditionExpression: expression });
  return flow.id;
})()
"""


def test_the_servers_refusal_is_shown_on_the_offending_element(site: Site) -> None:
    page = site.page
    site.login("designer")
    site.visit("/designer/rectification_item/1")
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    flow = page.evaluate(SMUGGLE)
    page.click("[data-validate]")
    expect(page.locator("[data-status]")).to_have_attribute("data-kind", "error")
    expect(page.locator(".rf-problem")).to_contain_text("not allowed")
    expect(page.locator(f'.djs-element[data-element-id="{flow}"]')).to_have_class(re.compile("rf-invalid"))
    site.shot("10-designer-refused")
