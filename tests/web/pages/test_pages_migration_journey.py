"""迁移运行中的事项 in the browser: a designer deploys version 2, maps its missing steps, tries and asks; an approver
confirms from the notice on their inbox, and the items go on on version 2."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.bundle import with_folder_forms
from engine.store.db import transaction
from tests.engine.items.test_item_migrations import default_v2
from tests.redesign import items_at_each_step
from tests.web.pages.conftest import Site


def test_a_designer_asks_to_move_running_items_and_an_approver_confirms(
    site: Site, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        waiting = items_at_each_step(session)
    # Version 2 removes 制定整改措施 (define_measures) and renames assign_owner to appoint_owner.
    bundle = with_folder_forms(default_v2(tmp_path / "forms"), tmp_path / "forms")
    files = [
        {"name": "rectification_item.bpmn", "mimeType": "application/xml", "buffer": bundle.diagram},
        *({"name": key, "mimeType": "application/json", "buffer": data} for key, data in bundle.forms.items()),
    ]
    page = site.page
    site.login("designer")
    site.visit("/designer")
    page.set_input_files("#files", files)
    page.fill("#note", "合并前两步")
    page.click("form.deploy-bundle button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("版本 2")
    page.locator('section[data-process="rectification_item"] [data-migrate-link]').click()
    page.wait_for_load_state("networkidle")

    # The steps version 2 lacks: the renamed one comes paired, the removed one waits for a choice.
    expect(page.locator("#f-from_version")).to_have_value("1")
    expect(page.locator("#f-to_version")).to_have_value("2")
    expect(page.locator("tr[data-step]")).to_have_count(2)
    expect(page.locator("[id='f-mapping.assign_owner']")).to_have_value("appoint_owner")
    expect(page.locator("[id='f-mapping.define_measures']")).to_have_value("")
    page.get_by_role("button", name="试运行").click()
    blocked = page.locator(f"[data-dry-run] tr[data-item='{waiting['define_measures']}']")
    expect(blocked).to_contain_text("无法迁移")
    expect(blocked).to_contain_text("步骤 'define_measures' 在新版本中不存在，请为其指定映射")
    expect(page.locator(f"tr[data-item='{waiting['assign_owner']}']")).to_contain_text("assign_owner → appoint_owner")

    page.select_option("[id='f-mapping.define_measures']", "appoint_owner")
    page.get_by_role("button", name="试运行").click()
    expect(page.locator("[data-dry-run] .hint")).to_contain_text("迁移 4 件，受阻 0 件")
    expect(page.locator("[data-dry-run] tr[data-outcome=moves]")).to_have_count(4)
    site.shot("30-migration-dry-run")
    page.fill("#f-note", "制定措施并入指定责任人")
    page.get_by_role("button", name="提交确认").click()
    expect(page.locator(".flash")).to_have_text("已提交迁移申请，待审核人或管理员确认后执行")
    expect(page.locator("h1 [data-state]")).to_have_text("待确认")
    expect(page.locator("[data-decide] button")).to_have_text(["撤回"])

    site.login("approver")
    site.visit("/inbox")
    page.locator("[data-migrations-awaiting] a").click()
    asked = page.locator("tr[data-migration]")
    expect(asked).to_contain_text("制定措施并入指定责任人")
    expect(asked).to_contain_text("待确认")
    asked.get_by_role("link").click()
    expect(page.locator("[data-report] tbody tr")).to_have_count(4)
    page.get_by_role("button", name="确认执行").click()
    expect(page.locator(".flash")).to_have_text("已确认迁移，事项正在后台逐批迁移")
    # The server's worker moves them; the page refreshes itself until it is done.
    expect(page.locator("h1 [data-state]")).to_have_text("已执行", timeout=30_000)
    expect(page.locator("[data-report] tr[data-outcome=moved]")).to_have_count(4)
    expect(page.locator("[data-decide]")).to_have_count(0)
    site.shot("31-migration-confirmed")

    page.locator(f"[data-report] tr[data-item='{waiting['define_measures']}'] a").click()
    page.wait_for_url(re.compile(rf"/items/{waiting['define_measures']}(\?|$)"))
    expect(page.locator("dl.facts")).to_contain_text("v2")
    expect(page.locator('.djs-element.rf-current[data-element-id="appoint_owner"]')).to_have_count(1)
