"""A second version of the bundled lifecycle as a designer makes it, and items waiting at each step of the first.

Version 2 of ``rectification_item``: ``rectify`` renamed, its form's evidence required and shorter, its deadline
warning five days before the deadline instead of three, its overdue watch (an event sub-process) removed; the
reviewer lane's rule ``independent_approvers``; a new step ``site_check`` (with a form of its own) between an
approving review and closing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lxml import etree
from sqlalchemy.orm import Session

from engine.bpmn import deploy
from engine.bpmn.bundle import with_folder_forms
from engine.identity.identity import user_by_username
from engine.items import items, workflow
from engine.store.config import REPO_ROOT
from engine.store.models import Item, ProcessDefinition

PROCESSES = REPO_ROOT / "processes"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
RENAMED = "整改落实并自查 Rectify and self-check"
SITE_CHECK_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "现场核查 Site check",
    "type": "object",
    "properties": {"finding": {"type": "string", "title": "核查结论 Finding", "minLength": 1}},
    "required": ["finding"],
    "additionalProperties": False,
}


def deploy_version(session: Session, content: bytes, forms: Path) -> ProcessDefinition:
    """The one place these tests deploy: the diagram with the forms it names from the folder ``forms``."""
    definition, created = deploy.deploy(session, with_folder_forms(content, forms), actor="designer")
    assert created
    return definition


def _node(root: etree._Element, element: str) -> etree._Element:
    (found,) = root.xpath("//*[@id=$id]", id=element)
    return found


def _remove(root: etree._Element, *elements: str) -> None:
    for element in elements:
        for found in root.xpath("//*[@id=$id or @bpmnElement=$id or text()=$id]", id=element):
            found.getparent().remove(found)


def _bounds(shape: etree._Element, **values: int) -> None:
    bounds = shape.find(f"{DC}Bounds")
    for name, value in values.items():
        bounds.set(name, str(value))


def _edge(plane: etree._Element, flow: str, *points: tuple[int, int]) -> None:
    edge = etree.SubElement(plane, f"{BPMNDI}BPMNEdge", id=f"{flow}_di", bpmnElement=flow)
    for x, y in points:
        etree.SubElement(edge, f"{DI}waypoint", x=str(x), y=str(y))


def _add_site_check(root: etree._Element) -> None:
    process = root.find(f"{BPMN}process")
    task = etree.SubElement(
        process,
        f"{BPMN}userTask",
        id="site_check",
        name="现场核查 Site check",
        attrib={f"{CAMUNDA}formKey": "site_check.json"},
    )
    props = etree.SubElement(etree.SubElement(task, f"{BPMN}extensionElements"), f"{CAMUNDA}properties")
    etree.SubElement(props, f"{CAMUNDA}property", name="status", value="site_check")
    etree.SubElement(props, f"{CAMUNDA}property", name="status_label", value="现场核查中 Site check")
    etree.SubElement(
        process, f"{BPMN}sequenceFlow", id="flow_check_to_closed", sourceRef="site_check", targetRef="closed"
    )
    _node(root, "flow_approve").set("targetRef", "site_check")
    etree.SubElement(_node(root, "reviewer"), f"{BPMN}flowNodeRef").text = "site_check"
    plane = root.find(f"{BPMNDI}BPMNDiagram/{BPMNDI}BPMNPlane")
    for widened in ("rectification_participant_di", "responsible_unit_di", "owner_di", "reviewer_di"):
        _bounds(_node(root, widened), width=int(_node(root, widened).find(f"{DC}Bounds").get("width")) + 160)
    shape = etree.SubElement(plane, f"{BPMNDI}BPMNShape", id="site_check_di", bpmnElement="site_check")
    etree.SubElement(shape, f"{DC}Bounds", x="1000", y="435", width="100", height="80")
    _bounds(_node(root, "closed_di"), x=1182)
    _node(root, "closed_di").find(f"{BPMNDI}BPMNLabel/{DC}Bounds").set("x", "1165")
    _remove(root, "flow_approve_di")
    _edge(plane, "flow_approve", (955, 475), (1000, 475))
    _edge(plane, "flow_check_to_closed", (1100, 475), (1182, 475))


def second_version(forms: Path) -> bytes:
    """Version 2's diagram; its forms are written to ``forms`` (a copy of the bundled ones, one edited, one new)."""
    shutil.copytree(PROCESSES / "forms", forms)
    rectify_form = json.loads((forms / "rectify.json").read_text(encoding="utf-8"))
    rectify_form["properties"]["evidence"]["maxLength"] = 2000
    rectify_form["required"] = ["result", "evidence"]
    (forms / "rectify.json").write_text(json.dumps(rectify_form, ensure_ascii=False), encoding="utf-8")
    (forms / "site_check.json").write_text(json.dumps(SITE_CHECK_FORM, ensure_ascii=False), encoding="utf-8")

    root = etree.fromstring((PROCESSES / "rectification_item.bpmn").read_bytes())
    _node(root, "rectify").set("name", RENAMED)
    _node(root, "deadline_warning").find(
        f"{BPMN}timerEventDefinition/{BPMN}timeDate"
    ).text = "days_before(deadline_end, 5)"
    _remove(root, "deadline_overdue_watch", "deadline_overdue", "overdue_escalated", "flow_overdue")
    reviewer = _node(root, "reviewer").find(f"{BPMN}extensionElements/{CAMUNDA}properties/{CAMUNDA}property")
    reviewer.set("value", "independent_approvers")
    _add_site_check(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _do(session: Session, item: Item, username: str, step: str, data: dict[str, str]) -> None:
    (task,) = [task for task in items.live_tasks(session, item) if task.name == step]
    workflow.complete_task(session, user_by_username(session, username), task.id, data)


# The answers that take an item past each step of version 1, in order.
STEPS = [
    ("define_measures", "manager", {"measures": "增设取号机"}),
    ("assign_owner", "manager", {"owner": "owner"}),
    ("rectify", "owner", {"result": "已增设", "evidence": "现场照片"}),
    ("review", "approver", {"decision": "approve"}),
]


def items_at_each_step(session: Session) -> dict[str, int]:
    """One item (of the latest version) waiting at each step of version 1, and one past them (``closed``): step → id."""
    found = {}
    reporter = user_by_username(session, "reporter")
    for index in range(len(STEPS) + 1):
        waiting = STEPS[index][0] if index < len(STEPS) else "closed"
        item = workflow.create_item(
            session, reporter, workflow.NewItem(title=f"事项 at {waiting}", department="office"), "UTC"
        )
        for step, username, data in STEPS[:index]:
            _do(session, item, username, step, data)
        found[waiting] = item.id
    return found
