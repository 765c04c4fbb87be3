"""Rules on the flow: every element reachable, every path ending at an end event, statuses where they show."""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.bpmn.builder import BPMN_NS
from engine.bpmn.call_rules import CALLED_ONLY
from engine.bpmn.document import describe
from engine.bpmn.findings import Findings
from engine.bpmn.flow_graph import FlowGraph, reach, starts


def _tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _is_compensation(node: etree._Element) -> bool:
    """Compensation handlers and the events that call them are joined by associations, not sequence flows."""
    return node.get("isForCompensation") == "true" or node.find(_tag("compensateEventDefinition")) is not None


def _starts_alone(node: etree._Element) -> bool:
    """Flow nodes that need no incoming flow: event sub-processes and an ad-hoc sub-process's tasks."""
    parent = node.getparent()
    return node.get("triggeredByEvent") == "true" or (parent is not None and parent.tag == _tag("adHocSubProcess"))


def _ends_alone(node: etree._Element) -> bool:
    """Flow nodes that need no outgoing flow besides end events: those above, and a link's throwing side."""
    link = node.tag == _tag("intermediateThrowEvent") and node.find(_tag("linkEventDefinition")) is not None
    return link or _starts_alone(node) or _is_compensation(node)


def check_paths(process: etree._Element, graph: FlowGraph, findings: Findings) -> None:
    reached = set(reach(graph, starts(process)))
    leaving = {flow.get("sourceRef") for flow in graph.flows}
    for element, node in graph.nodes.items():
        if element not in reached and not (_starts_alone(node) or _is_compensation(node)):
            findings.error(
                "unreachable",
                element,
                f"元素无法到达 {describe(node)} cannot be reached from the start event: no sequence flow leads to it "
                "from there",
            )
        if element not in leaving and node.tag != _tag("endEvent") and not _ends_alone(node):
            findings.error(
                "dead-end",
                element,
                f"路径没有结束事件 {describe(node)} has no outgoing sequence flow: the path ends there without an "
                "end event (add a flow to the next step or to an end event)",
            )


def _interrupts(node: etree._Element | None) -> bool:
    return node is None or node.tag != _tag("boundaryEvent") or node.get("cancelActivity") != "false"


def check_statuses(process: etree._Element, graph: FlowGraph, model: dict[str, Any], findings: Findings) -> None:
    """A status shows while a user task is open and once an end event is reached; set it there, and only there.

    End events after a non-interrupting boundary event (a deadline's escalation) do not end the item: no status;
    nor do a sub-process's own end events (the flow goes on after the sub-process), nor those of a process that is
    only called (its caller goes on).
    """
    for element, task in model["tasks"].items():
        if not task["status"]:
            findings.warning(
                "status-missing",
                element,
                f"用户任务没有状态 User task {element!r} sets no status: while it is open the item shows the generic "
                "进行中 In progress (set the properties status and status_label)",
            )
    ending = reach(graph, starts(process), passes=lambda element: _interrupts(graph.nodes.get(element)))
    for element in ending:
        node = graph.nodes.get(element)
        ends_item = node is not None and node.tag == _tag("endEvent") and node.getparent() is process
        if ends_item and not model.get(CALLED_ONLY) and element not in model["statuses"]:
            findings.warning(
                "status-missing",
                element,
                f"结束事件没有状态 End event {element!r} sets no status: an item ending there shows the generic "
                "已办结 Completed (set the properties status and status_label)",
            )
    for element in model["statuses"]:
        node = graph.nodes.get(element)
        if node is None or node.tag not in (_tag("userTask"), _tag("endEvent")):
            findings.warning(
                "status-ignored",
                element,
                f"此处的状态不会显示 The status of {element!r} is never shown: only user tasks and end events set "
                "the item's status",
            )
