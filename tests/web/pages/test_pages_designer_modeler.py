"""The designer's modeler in Chromium: fitted clear of the palette, in the page's language, drafts kept
across a reload, undo/redo, and bpmnlint's recommended rules shown live."""

from __future__ import annotations

from playwright.sync_api import Dialog, Page, expect

from tests.web.pages.conftest import Site

DEFINE_MEASURES = '[data-element-id="define_measures"]'
CREATE_START = '.djs-palette [data-action="create.start-event"]'

# Screen boxes of the palette, the canvas and every shape drawn on it.
BOXES = """() => {
  const box = (node) => { const r = node.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const modeler = window.rectiflowModeler;
  const shapes = modeler.get("elementRegistry").filter((e) => !e.waypoints && e.parent && e.type !== "label");
  return {
    palette: box(document.querySelector(".djs-palette")),
    lint: box(document.querySelector(".bjsl-button")),
    canvas: box(document.querySelector("[data-canvas]")),
    shapes: Object.fromEntries(shapes.map((e) => [e.id, box(modeler.get("elementRegistry").getGraphics(e))])),
  };
}"""

NAME_OF = "(id) => window.rectiflowModeler.get('elementRegistry').get(id).businessObject.name"


def open_modeler(site: Site, process: str = "rectification_item") -> Page:
    site.login("designer")
    page = site.visit(f"/designer/{process}/1")
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    return page


def rename(page: Page, selector: str, name: str) -> None:
    """Rename a shape the way a person does: double-click, type, click the empty canvas."""
    page.locator(selector).dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    editor.press("Control+A")
    editor.type(name)
    page.locator("[data-canvas] svg[tabindex]").click(position={"x": 400, "y": 8})


def overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(inner: list[float], outer: list[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def test_every_shipped_diagram_opens_whole_and_clear_of_the_palette(site: Site) -> None:
    for process in ("rectification_item", "joint_task"):
        page = open_modeler(site, process)
        boxes = page.evaluate(BOXES)
        assert not overlaps(boxes["shapes"]["start"], boxes["palette"]), process
        outside = [id for id, box in boxes["shapes"].items() if not inside(box, boxes["canvas"])]
        assert outside == [], process
        shapes = boxes["shapes"].items()
        covered = [id for id, box in shapes if overlaps(box, boxes["palette"]) or overlaps(box, boxes["lint"])]
        assert covered == [], process
    site.shot("11-designer-fitted")


def test_the_palette_context_pad_and_properties_speak_the_page_language(site: Site) -> None:
    page = open_modeler(site)
    expect(page.locator(CREATE_START)).to_have_attribute("aria-label", "创建开始事件")
    expect(page.locator('.djs-palette [data-action="hand-tool"]')).to_have_attribute("aria-label", "启用抓手工具")
    page.locator(DEFINE_MEASURES).click()
    expect(page.locator('.djs-context-pad [data-action="delete"]')).to_have_attribute("title", "删除")
    expect(page.locator(".bio-properties-panel-group-header-title").first).to_have_text("通用")

    site.visit("/language/en?next=/designer/rectification_item/1")
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    expect(page.locator(CREATE_START)).to_have_attribute("aria-label", "Create start event")
    page.locator(DEFINE_MEASURES).click()
    expect(page.locator('.djs-context-pad [data-action="delete"]')).to_have_attribute("title", "Delete")
    expect(page.locator(".bio-properties-panel-group-header-title").first).to_have_text("General")
    expect(page.locator("[data-undo]")).to_have_text("Undo")


def test_an_edit_left_by_mistake_is_offered_back_as_a_draft_and_can_be_discarded(site: Site) -> None:
    page = open_modeler(site)
    rename(page, DEFINE_MEASURES, "拟定整改措施")
    asked: list[str] = []

    def leave(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.reload()
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    assert asked == ["beforeunload"]
    assert page.evaluate(NAME_OF, "define_measures") == "制定整改措施 Define measures"
    banner = page.locator("[data-draft]")
    expect(banner).to_contain_text("有一份未部署的草稿")
    page.click("[data-draft-restore]")
    expect(page.locator(DEFINE_MEASURES)).to_contain_text("拟定整改措施")
    site.shot("12-designer-draft")

    page.click("[data-draft-discard]")
    expect(banner).to_be_hidden()
    expect(page.locator(DEFINE_MEASURES)).to_contain_text("制定整改措施")
    page.reload()  # nothing unsaved now: no question asked
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    expect(banner).to_be_hidden()
    assert asked == ["beforeunload"]


def test_a_deployed_draft_is_gone_and_leaving_asks_nothing(site: Site) -> None:
    page = open_modeler(site)
    rename(page, DEFINE_MEASURES, "拟定整改措施")
    assert page.evaluate("Object.keys(localStorage)") == ["rectiflow.draft.designer.rectification_item"]
    page.click("[data-deploy]")
    page.wait_for_url("**/designer/rectification_item/2")
    expect(page.locator("[data-bpmn-modeler][data-ready=true]")).to_be_visible()
    assert page.evaluate("Object.keys(localStorage)") == []
    site.visit("/designer/rectification_item/1")  # a dialog would fail this visit: none is handled
    expect(page.locator("[data-draft]")).to_be_hidden()


def test_ctrl_z_and_the_buttons_undo_and_redo(site: Site) -> None:
    page = open_modeler(site)
    undo, redo = page.locator("[data-undo]"), page.locator("[data-redo]")
    expect(undo).to_have_text("撤销")
    expect(undo).to_be_disabled()
    expect(redo).to_be_disabled()
    rename(page, DEFINE_MEASURES, "拟定整改措施")
    expect(undo).to_be_enabled()

    page.keyboard.press("Control+Z")
    assert page.evaluate(NAME_OF, "define_measures") == "制定整改措施 Define measures"
    expect(undo).to_be_disabled()
    expect(redo).to_be_enabled()
    redo.click()
    assert page.evaluate(NAME_OF, "define_measures") == "拟定整改措施"
    expect(redo).to_be_disabled()
    undo.click()
    assert page.evaluate(NAME_OF, "define_measures") == "制定整改措施 Define measures"
    page.keyboard.press("Control+Y")  # the focus stayed on the canvas after the button
    assert page.evaluate(NAME_OF, "define_measures") == "拟定整改措施"


def test_the_recommended_lint_rules_pass_the_shipped_diagrams_and_mark_a_loose_task(site: Site) -> None:
    for process in ("joint_task", "rectification_item"):
        page = open_modeler(site, process)
        expect(page.locator(".bjsl-button")).to_have_text("没有问题")
        expect(page.locator(".bjsl-overlay")).to_have_count(0)

    loose = page.evaluate("""() => {
      const modeler = window.rectiflowModeler;
      const start = modeler.get("elementRegistry").get("start");
      return modeler.get("modeling").createShape({ type: "bpmn:Task" }, { x: start.x + 18, y: start.y + 160 },
        start.parent).id;
    }""")
    marker = page.locator(f'.djs-overlays[data-container-id="{loose}"] .bjsl-overlay')
    expect(marker).to_be_visible()
    marker.hover()
    expect(marker).to_contain_text("元素没有连线")
    expect(page.locator(".bjsl-button")).to_contain_text("个错误")
    expect(page.locator(".bjsl-button")).to_have_css("background-color", "rgb(204, 0, 0)")
    site.shot("13-designer-lint")
