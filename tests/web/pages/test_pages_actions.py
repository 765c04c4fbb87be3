"""Everyone's actions on the item page besides its tasks, in a real browser: the owner reports progress and
asks for more time, an approver decides, a unit's manager hands the unit's part to a member. Whoever may
not act sees no form, and a post made anyway is refused (403) and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import APIResponse, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.items import corrections, workflow
from engine.store.db import transaction
from engine.store.models import ExtensionRequest, Item, ProgressUpdate, Task
from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_states import STEPS

TZ = "Asia/Shanghai"


def raise_item(sessions: sessionmaker[Session], steps: int, co: tuple[str, ...] = ()) -> int:
    """An office item (with co-units ``co``: a joint task) taken ``steps`` steps along its lifecycle."""
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(
            title="窗口排队时间长", department="office", deadline=dt.date(2099, 12, 31), co_departments=co
        )
        item = workflow.create_item(session, reporter, new, TZ)
        for _ in range(steps):
            task = session.scalars(select(Task).where(Task.item_id == item.id, Task.state == "ready")).one()
            username, data = STEPS[task.name]
            workflow.complete_task(session, identity.user_by_username(session, username), task.id, data)
        return item.id


def ready_tasks(sessions: sessionmaker[Session], item_id: int) -> dict[str, int]:
    """The item's ready tasks: name (and unit, for a unit's part) -> id."""
    with transaction(sessions) as session:
        rows = session.scalars(select(Task).where(Task.item_id == item_id, Task.state == "ready"))
        return {"/".join(filter(None, (task.name, task.instance_key))): task.id for task in rows}


def owner_at_work(site: Site, sessions: sessionmaker[Session]) -> int:
    """An item whose measures are defined and owner assigned, open on the owner's page: the owner is at work."""
    item_id = raise_item(sessions, steps=2)
    site.login("owner")
    site.visit(f"/items/{item_id}")
    return item_id


def post(site: Site, path: str, form: dict[str, str]) -> APIResponse:
    """A form posted straight from the logged-in person's browser session, with its CSRF token."""
    token = site.page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    return site.page.request.post(site.url(path), form={"csrf_token": token, **form}, max_redirects=0)


def test_the_owner_reports_progress_and_a_bad_percent_is_explained_beside_its_field(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = owner_at_work(site, sessions)
    form = page.locator("#report-progress form")
    page.fill("#p-note", "已采购两台取号机")
    page.fill("#p-percent", "150")
    form.get_by_role("button").click()
    percent = page.locator(".field", has=page.locator("#p-percent"))
    expect(percent.locator(".error")).to_have_text("完成比例须为 0 到 100 之间的整数")
    expect(page.locator("#p-note")).to_have_value("已采购两台取号机")  # nothing typed is lost
    expect(page.locator("#report-progress .error")).to_have_count(1)
    site.shot("actions-01-bad-percent")

    page.fill("#p-percent", "60")
    page.fill("#p-plan", "下周安装调试")
    form.get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已报送进展")
    update = page.locator("ul.updates li")
    expect(update).to_have_count(1)
    expect(update).to_contain_text("已采购两台取号机")
    expect(update).to_contain_text("60%")
    expect(update.locator(".datum")).to_contain_text("下周安装调试")
    expect(page.locator(".timeline")).to_contain_text("报送了整改进展")
    site.shot("actions-02-progress")

    site.visit("/language/en")
    site.visit(f"/items/{item_id}")
    page.fill("#p-note", "second")
    page.fill("#p-percent", "-1")
    page.locator("#report-progress form").get_by_role("button").click()
    expect(page.locator(".field", has=page.locator("#p-percent")).locator(".error")).to_have_text(
        "Completion must be a whole number from 0 to 100"
    )
    with transaction(sessions) as session:
        assert session.scalars(select(ProgressUpdate.percent)).all() == [60]


def test_a_progress_report_on_an_item_withdrawn_meanwhile_says_why_at_the_top(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = owner_at_work(site, sessions)
    page.fill("#p-note", "已采购两台取号机")
    with transaction(sessions) as session:  # an administrator withdraws it while the owner types
        corrections.withdraw(session, identity.user_by_username(session, "admin"), item_id, "重复登记")
    page.locator("#report-progress form").get_by_role("button").click()
    # The form is no longer offered on a withdrawn item: the refusal is said where it cannot be missed.
    expect(page.locator(".refused .error")).to_have_text("已撤销的事项不再报送进展")
    expect(page.locator("#report-progress")).to_have_count(0)
    with transaction(sessions) as session:
        assert session.scalars(select(ProgressUpdate).where(ProgressUpdate.item_id == item_id)).all() == []


def test_the_owner_asks_for_more_time_and_an_approver_grants_it_from_the_inbox(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = owner_at_work(site, sessions)
    expect(page.locator("dd.deadline")).to_contain_text("2099年12月31日")
    page.fill("#x-new_deadline", "2020-01-01")
    page.fill("#x-reason", "设备到货延迟")
    page.locator("form.request-extension").get_by_role("button").click()
    date = page.locator(".field", has=page.locator("#x-new_deadline"))
    expect(date.locator(".error")).to_have_text("新的整改时限须晚于今天且不同于现时限")
    expect(page.locator("#x-reason")).to_have_value("设备到货延迟")

    page.fill("#x-new_deadline", "2100-01-31")
    page.locator("form.request-extension").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已提交延期申请，等待审批")
    pending = page.locator(".pending-extension")
    expect(pending).to_contain_text("延至 2100年1月31日，待审批")
    expect(pending.locator(".reason")).to_have_text("设备到货延迟")
    expect(page.locator("form.decide")).to_have_count(0)  # the owner does not decide on his own request
    expect(page.locator("form.request-extension")).to_have_count(0)  # one request at a time

    site.login("approver")
    row = page.locator("section.decisions tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("设备到货延迟")
    site.shot("actions-03-decisions-in-inbox")
    row.get_by_role("link").click()
    page.check("form.decide input[name=decision][value=refuse]")
    page.locator("form.decide").get_by_role("button").click()  # a refusal without its reason
    comment = page.locator(".field", has=page.locator("#d-comment"))
    expect(comment.locator(".error")).to_have_text("不同意延期须说明理由")
    expect(page.locator("form.decide input[value=refuse]")).to_be_checked()
    page.check("form.decide input[name=decision][value=grant]")
    page.fill("#d-comment", "同意，请按期完成")
    page.locator("form.decide").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已同意延期")
    expect(page.locator("dd.deadline")).to_contain_text("2100年1月31日")
    expect(page.locator(".pending-extension")).to_have_count(0)
    expect(page.locator(".timeline")).to_contain_text("同意延期至 2100年1月31日")
    site.shot("actions-04-extension-granted")

    site.visit("/inbox")
    expect(page.locator("section.decisions")).to_have_count(0)
    with transaction(sessions) as session:
        assert session.get_one(Item, item_id).deadline == dt.date(2100, 1, 31)


def test_a_units_manager_hands_its_part_to_a_member_who_finds_it_in_the_inbox_and_completes_it(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = raise_item(sessions, steps=0, co=("works",))
    site.login("works_manager")
    site.visit(f"/items/{item_id}")
    forms = page.locator("form.handover")
    expect(forms).to_have_count(1)  # only the works' part: the office's is the office managers'
    expect(forms).to_have_attribute("data-unit", "works")
    options = forms.locator("select[name=assignee] option")
    expect(options).to_have_text(["—", "outsider (outsider)", "works_manager (works_manager)"])
    forms.get_by_role("button").click()  # nobody chosen
    expect(forms.locator(".error")).to_have_text("请选择办理人")
    page.locator("form.handover select").select_option("outsider")
    page.locator("form.handover").get_by_role("button").click()
    expect(page.locator(".flash")).to_have_text("已指派：各单位办理")
    expect(page.locator("form.handover .assignee")).to_have_text("已指派给 outsider")
    expect(page.locator(".timeline")).to_contain_text("outsider")
    site.shot("actions-05-assigned")

    site.login("outsider")
    tasks = page.locator("table.inbox tbody tr")
    expect(tasks).to_have_count(1)
    expect(tasks).to_contain_text("工务科")
    tasks.get_by_role("link").click()
    page.fill("#f-contribution", "工务科已调整窗口排班")
    page.click(".task-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已提交")
    expect(page.locator("table.inbox tbody tr")).to_have_count(0)
    site.visit(f"/items/{item_id}")
    works = page.locator("table.parts tbody tr", has_text="工务科")
    expect(works).to_contain_text("已完成")
    expect(works).to_contain_text("工务科已调整窗口排班")


def test_a_manager_names_a_co_unit_with_the_measures_and_the_item_grows_a_joint_stage(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = raise_item(sessions, steps=0)
    site.login("manager")
    site.visit("/inbox")
    page.locator("table.inbox tbody tr").get_by_role("link").first.click()
    expect(page.locator(".task-form h2")).to_have_text("制定整改措施")
    co_units = page.locator("#f-co_departments label")
    expect(co_units).to_have_text(["办公室", "工务科"])  # every unit, by name
    page.fill("#f-measures", "联合工务科调整窗口布局")
    page.check("input[name=co_departments][value=works]")
    page.click(".task-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已提交")

    site.login("works_manager")
    tasks = page.locator("table.inbox tbody tr")
    expect(tasks).to_have_count(1)
    expect(tasks).to_contain_text("各单位办理")
    site.visit(f"/items/{item_id}")
    expect(page.locator("table.parts tbody tr")).to_have_count(2)
    expect(page.locator(".timeline")).to_contain_text("工务科")


def test_who_may_not_act_sees_no_form_and_a_direct_post_is_refused(site: Site, sessions: sessionmaker[Session]) -> None:
    page = site.page
    at_measures = raise_item(sessions, steps=0)
    at_work = raise_item(sessions, steps=2)
    (define_measures,) = ready_tasks(sessions, at_measures).values()

    # An approver reads every item but reports no progress, asks no extension, hands nothing on.
    site.login("approver")
    site.visit(f"/items/{at_work}")
    expect(page.locator("#report-progress, form.request-extension, form.handover")).to_have_count(0)
    assert post(site, f"/items/{at_work}/progress", {"note": "越权报送", "percent": "10"}).status == 403
    assert post(site, f"/items/{at_work}/extensions", {"new_deadline": "2100-01-31", "reason": "越权"}).status == 403
    refused = post(site, f"/tasks/{define_measures}/assign", {"assignee": "owner"})
    assert refused.status == 403
    assert "没有权限" in refused.text()

    # A member of the unit may report progress but not hand the unit's task on, nor ask for an owner's extension.
    site.login("owner")
    site.visit(f"/items/{at_measures}")
    expect(page.locator("#report-progress")).to_have_count(1)
    expect(page.locator("form.handover, form.request-extension")).to_have_count(0)
    assert post(site, f"/tasks/{define_measures}/assign", {"assignee": "owner"}).status == 403

    # The owner asks; deciding on his own request is refused.
    site.visit(f"/items/{at_work}")
    page.fill("#x-new_deadline", "2100-01-31")
    page.fill("#x-reason", "设备到货延迟")
    page.locator("form.request-extension").get_by_role("button").click()
    expect(page.locator(".pending-extension")).to_be_visible()
    with transaction(sessions) as session:
        (request_id,) = session.scalars(select(ExtensionRequest.id)).all()
    assert post(site, f"/extensions/{request_id}/decision", {"decision": "grant"}).status == 403

    # A manager of another unit does not see the office's item at all.
    site.login("works_manager")
    site.visit("/inbox")
    assert post(site, f"/items/{at_work}/progress", {"note": "越权报送"}).status == 404
    assert post(site, f"/tasks/{define_measures}/assign", {"assignee": "outsider"}).status == 403

    with transaction(sessions) as session:
        assert session.scalars(select(ProgressUpdate)).all() == []
        assert session.get_one(Task, define_measures).assignee_id is None
        assert [r.state for r in session.scalars(select(ExtensionRequest))] == ["pending"]
        assert session.get_one(Item, at_work).deadline == dt.date(2099, 12, 31)
