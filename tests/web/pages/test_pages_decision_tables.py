"""The decision tables designer in Chromium: the list, dmn-js's table edited by typing, 试算 on the draft,
deploy as a new version, a new table from the template; designers only; nothing loaded from elsewhere."""

from __future__ import annotations

from playwright.sync_api import Page, Request, expect
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import decisions
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from tests.web.pages.conftest import Site

EXAMPLE = REPO_ROOT / "processes" / "examples" / "decision_table.dmn"
READY = "[data-dmn-modeler][data-ready=true]"
MARKED = "rgb(185, 28, 28) 0px 0px 0px 2px inset"  # a cell of an element a refusal names


def deploy_example(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        decisions.deploy(session, EXAMPLE.read_bytes(), "designer")


def cell(page: Page, rule: str, column: str) -> str:
    return f'td[data-row-id="{rule}"][data-col-id="{column}"]'


def type_into(page: Page, selector: str, text: str) -> None:
    """Replace a cell's text as a person does: click into it, select all, type."""
    page.locator(selector).click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def evaluate(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f'[data-trial] [name="{name}"]', value)
    page.locator("[data-trial] button[type=submit]").click()


def test_a_designer_edits_a_cell_tries_the_draft_and_deploys_version_2(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    deploy_example(sessions)
    page = site.page
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith(site.base) and not request.url.startswith("data:"):
            elsewhere.append(request.url)

    page.on("request", note)
    site.login("designer")
    site.visit("/designer")
    page.locator("header nav").get_by_role("link", name="决策表").click()
    row = page.locator('tr[data-decision="example_deadline"]')
    expect(row).to_contain_text("整改时限")
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("UNIQUE")
    expect(row).to_contain_text("designer")
    site.shot("decisions-01-list")
    row.get_by_role("link", name="编辑").click()
    expect(page.locator(READY)).to_be_visible()
    expect(page.locator(".crumbs")).to_contain_text("v1")

    # dmn-js in Chinese, the table's own labels as written.
    expect(page.locator(".hit-policy")).to_contain_text("命中策略：唯一 Unique")
    expect(page.locator('th[data-col-id="input_category"]')).to_contain_text("当类别 Category字符串")
    expect(page.locator('th[data-col-id="output_days"] .edit-button')).to_have_attribute("aria-label", "编辑输出")

    # One field per variable the inputs read; the deployed table says 7 days for a high safety problem.
    expect(page.locator("[data-trial-fields] label")).to_have_text(
        ["类别 Category (category)", "严重程度 Severity (severity)"]
    )
    evaluate(page, {"category": "safety", "severity": "high"})
    outputs = page.locator("[data-trial-outputs]")
    expect(outputs).to_contain_text("7")
    expect(page.locator("[data-trial-result]")).to_contain_text("safety_high")

    # Typed into the table, tried before any deploy: the draft is what is evaluated.
    type_into(page, cell(page, "safety_high", "output_days"), "5")
    evaluate(page, {"category": "safety", "severity": "high"})
    expect(outputs.locator("td").first).to_have_text("5")
    expect(page.locator(cell(page, "safety_high", "output_days"))).to_have_css("background-color", "rgb(220, 252, 231)")
    site.shot("decisions-02-trial")

    # The engine's refusal of the draft names the rule, which the table marks.
    type_into(page, cell(page, "safety_high", "input_severity"), '"high" +')
    evaluate(page, {"category": "safety", "severity": "high"})
    expect(page.locator("[data-trial-result]")).to_contain_text("'safety_high'")
    expect(page.locator(cell(page, "safety_high", "input_category"))).to_have_css("box-shadow", MARKED)
    type_into(page, cell(page, "safety_high", "input_severity"), '"high"')
    # The browser logs the refusal's 422 itself; nothing else may have been logged.
    assert [message for message in site.console_errors if "status of 422" not in message] == []
    site.console_errors.clear()

    page.click("[data-deploy]")
    page.wait_for_url("**/designer/decisions/example_deadline?version=2")
    expect(page.locator(READY)).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("已部署 example_deadline 版本 2")
    expect(page.locator(".crumbs")).to_contain_text("v2")
    expect(page.locator(cell(page, "safety_high", "output_days"))).to_have_text("5")
    site.visit("/designer/decisions")
    expect(page.locator('tr[data-decision="example_deadline"]')).to_contain_text("v2")
    assert elsewhere == []


def test_a_new_table_starts_from_the_template_and_a_refused_deploy_names_the_element(site: Site) -> None:
    page = site.page
    site.login("designer")
    site.visit("/designer/decisions")
    page.fill("#key", "9lives")
    page.click("form.new-decision button[type=submit]")
    expect(page.locator(".field.invalid")).to_contain_text("决策标识须以字母或下划线开头")

    page.fill("#key", "inspection_days")
    page.fill("#name", "检查期限 Inspection days")
    page.click("form.new-decision button[type=submit]")
    page.wait_for_url("**/designer/decisions/inspection_days?name=*")
    expect(page.locator(READY)).to_be_visible()
    expect(page.locator(".crumbs")).to_contain_text("新建，尚未部署")
    evaluate(page, {"severity": "low"})
    expect(page.locator("[data-trial-outputs] td").first).to_have_text("30")

    # The trial's fields follow the table as edited: the input now reads `level`, a whole number; a value that
    # is none is said beside its field and nothing is sent.
    page.locator('th[data-col-id="input_severity"] .input-label').dblclick()
    type_into(page, '[aria-label="输入表达式"]', "level")
    type_into(page, ".type-ref-edit input", "integer")
    page.locator("[data-trial] h2").click()  # closes dmn-js's popup
    expect(page.locator("[data-trial-fields] label")).to_have_text(["严重程度 Severity (level)"])
    evaluate(page, {"level": "2.5"})
    beside = page.locator('[data-trial] .field.invalid[data-variable="level"]')
    expect(beside.locator(".error")).to_have_text("请填写整数")
    expect(page.locator("[data-trial-outputs]")).to_have_count(0)
    evaluate(page, {"level": "3"})
    expect(beside).to_have_count(0)
    expect(page.locator("[data-trial-outputs] td").first).to_have_text("30")

    # FEEL's range is not Python: the engine refuses it, naming the rule, which the table marks.
    type_into(page, cell(page, "rule_high", "input_severity"), "[1..5]")
    page.click("[data-deploy]")
    status = page.locator("[data-status]")
    expect(status).to_contain_text("'rule_high'")
    expect(status).to_contain_text("write 1 <= ? <= 5")
    expect(page.locator(cell(page, "rule_high", "output_days"))).to_have_css("box-shadow", MARKED)
    site.shot("decisions-03-refused")
    assert [message for message in site.console_errors if "status of 422" not in message] == []
    site.console_errors.clear()

    type_into(page, cell(page, "rule_high", "input_severity"), '"high", "critical"')
    page.click("[data-deploy]")
    page.wait_for_url("**/designer/decisions/inspection_days?version=1")
    site.visit("/designer/decisions")
    expect(page.locator('tr[data-decision="inspection_days"]')).to_contain_text("检查期限")

    page.fill("#key", "inspection_days")
    page.click("form.new-decision button[type=submit]")
    expect(page.locator(".field.invalid")).to_contain_text("已存在")


def test_the_pages_speak_english_when_chosen(site: Site, sessions: sessionmaker[Session]) -> None:
    deploy_example(sessions)
    page = site.page
    site.login("designer")
    site.visit("/language/en?next=/designer/decisions/notify_rule")
    expect(page.locator(READY)).to_be_visible()
    expect(page.locator(".hit-policy")).to_contain_text("Hit policy:Collect")
    expect(page.locator("[data-trial] h2")).to_have_text("Evaluate")
    evaluate(page, {"severity": "high"})
    expect(page.locator("[data-trial-outputs] tbody tr")).to_have_count(3)


def test_only_designers_open_the_decision_pages(site: Site, sessions: sessionmaker[Session]) -> None:
    deploy_example(sessions)
    page = site.page
    for person in ("approver", "admin", "auditor"):
        site.login(person)
        expect(page.locator("header nav")).not_to_contain_text("决策表")
        for path in ("/designer/decisions", "/designer/decisions/example_deadline", "/designer/decisions?key=x"):
            refused = page.request.get(site.url(path))
            assert (refused.status, "没有权限" in refused.text()) == (403, True), (person, path)
        # The page's endpoints, posted from the person's session with its CSRF token, as the page's script does.
        headers = {"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content") or ""}
        tried = page.request.post(
            site.url("/designer/decisions/example_deadline/evaluate"),
            data={"inputs": {"category": "safety", "severity": "high"}},
            headers={**headers, "Content-Type": "application/json"},
        )
        assert tried.status == 403, person
        deployed = page.request.post(
            site.url("/designer/decisions/deploy"),
            data=EXAMPLE.read_text(),
            headers={**headers, "Content-Type": "application/xml"},
        )
        assert deployed.status == 403, person
    # A designer's post without the session's CSRF token is refused too.
    site.login("designer")
    unsigned = page.request.post(site.url("/designer/decisions/deploy"), data=EXAMPLE.read_text())
    assert unsigned.status == 400
    with transaction(sessions) as session:
        assert [d.version for d in decisions.versions_of(session, "example_deadline")] == [1]
