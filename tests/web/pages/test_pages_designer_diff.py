"""比较版本 in the browser: two versions compared, coloured, and the items waiting where they differ."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from tests.redesign import deploy_version, items_at_each_step, second_version
from tests.web.pages.conftest import Site


def test_a_designer_sees_what_version_2_changes_and_which_items_wait_there(
    site: Site, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        waiting = items_at_each_step(session)
        deploy_version(session, second_version(tmp_path / "forms"), tmp_path / "forms")
    page = site.page
    site.login("designer")
    site.visit("/designer")
    process = page.locator("section.process", has=page.locator("code", has_text="rectification_item"))
    process.get_by_role("link", name="比较版本").click()
    page.wait_for_load_state("networkidle")

    # The newer diagram, its new step green and its changed ones orange.
    expect(page.locator("[data-bpmn-viewer][data-ready=true]")).to_be_visible()
    expect(page.locator('.djs-element.rf-added[data-element-id="site_check"]')).to_have_count(1)
    for changed in ("rectify", "deadline_warning", "review", "flow_approve"):
        expect(page.locator(f'.djs-element.rf-changed[data-element-id="{changed}"]')).to_have_count(1)
    expect(page.locator('.djs-element.rf-changed[data-element-id="define_measures"]')).to_have_count(0)
    site.shot("20-designer-compare")

    expect(page.locator("[data-diff-added] li")).to_have_text(
        [re.compile("现场核查 .*site_check.*用户任务"), re.compile("flow_check_to_closed.*连线")]
    )
    expect(page.locator("[data-diff-removed] li")).to_have_text(
        [
            re.compile("逾期督办.*deadline_overdue_watch"),
            re.compile("逾期.*deadline_overdue"),
            re.compile("已督办.*overdue_escalated"),
            re.compile("flow_overdue"),
        ]
    )
    rectify = page.locator("[data-diff-changed] h3[data-element=rectify] + table tbody tr")
    expect(rectify).to_have_text(
        [
            re.compile("名称\\s*整改落实\\s*整改落实并自查"),
            re.compile("填写限制 evidence\\s*maxLength: 5000\\s*maxLength: 2000"),
            re.compile("必填 evidence\\s*否\\s*是"),
        ]
    )
    warning = page.locator("[data-diff-changed] h3[data-element=deadline_warning] + table tbody tr")
    expect(warning).to_have_text(
        re.compile("定时表达式.*days_before\\(deadline_end, 3\\).*days_before\\(deadline_end, 5\\)")
    )
    review = page.locator("[data-diff-changed] h3[data-element=review] + table tbody tr")
    expect(review).to_have_text(
        re.compile("可办理人\\s*审核人 \\(approvers\\)\\s*审核人（不含上一步办理人） \\(independent_approvers\\)")
    )

    affected = page.locator("[data-diff-affected] tbody tr")
    expect(affected).to_have_count(4)  # the deadline watches concern the items at every step
    at_rectify = page.locator(f"[data-item='{waiting['rectify']}']")
    expect(at_rectify).to_contain_text("整改落实")
    expect(at_rectify).to_contain_text("逾期：已删除")
    expect(at_rectify).to_contain_text("预警：定时表达式")
    expect(page.locator(f"[data-item='{waiting['review']}']")).to_contain_text("审核验收：可办理人")
    at_rectify.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/items/{waiting['rectify']}(\?|$)"))
    expect(page.locator("h1")).to_have_text("事项 at rectify")
    # Its own diagram (version 1) shows where it waits, marked by the same viewer.
    expect(page.locator('.djs-element.rf-current[data-element-id="rectify"]')).to_have_count(1)
    expect(page.locator('.djs-element.rf-completed[data-element-id="assign_owner"]')).to_have_count(1)


def test_comparing_a_version_with_itself_is_refused_beside_the_field(
    site: Site, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        deploy_version(session, second_version(tmp_path / "forms"), tmp_path / "forms")
    page = site.page
    site.login("designer")
    site.visit("/designer/rectification_item/diff")
    page.select_option("#f-from", "2")
    page.click("[data-compare-form] button[type=submit]")
    page.wait_for_load_state("networkidle")

    expect(page.locator(".field.invalid:has(#f-to) .error")).to_have_text("请选择两个不同的版本")
    expect(page.locator("[data-bpmn-viewer]")).to_have_count(0)
    site.visit("/designer/rectification_item/diff?from=x&to=2")
    expect(page.locator(".field.invalid:has(#f-from) .error")).to_be_visible()
    site.visit("/designer/rectification_item/diff?from=1&to=9")
    expect(page.locator(".field.invalid:has(#f-to) .error")).to_contain_text("没有第 9 版")
