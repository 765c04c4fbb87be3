"""The flow nodes of a process and what follows each: sequence flows, boundary events, a sub-process's start."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn.builder import BPMN_NS

_NS = {"bpmn": BPMN_NS}


def _bpmn(*names: str) -> frozenset[str]:
    return frozenset(f"{{{BPMN_NS}}}{name}" for name in names)


FLOW_NODES = _bpmn(
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
)  # fmt: skip
CONTAINERS = _bpmn("process", "subProcess", "transaction", "adHocSubProcess")


@dataclass
class FlowGraph:
    nodes: dict[str, etree._Element] = field(default_factory=dict)  # every flow node, sub-processes' included
    following: dict[str, list[str]] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)  # the sequence flows

    def preceding(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for source, targets in self.following.items():
            for target in targets:
                found.setdefault(target, []).append(source)
        return found


def _ids(nodes: Iterable[object]) -> list[str]:
    return [str(node) for node in nodes]


def flow_graph(process: etree._Element) -> FlowGraph:
    graph = FlowGraph()
    for node in process.iter(*FLOW_NODES):
        graph.nodes.setdefault(node.get("id", ""), node)
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        graph.flows.append(flow)
        graph.following.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    for node in process.iter(f"{{{BPMN_NS}}}boundaryEvent"):
        graph.following.setdefault(node.get("attachedToRef", ""), []).append(node.get("id", ""))
    targets = {flow.get("targetRef") for flow in graph.flows}
    for node in process.iter(*CONTAINERS - {f"{{{BPMN_NS}}}process"}):
        if node.tag == f"{{{BPMN_NS}}}adHocSubProcess":
            # Its tasks start on their own, each one no flow leads to.
            inner = [
                child.get("id", "") for child in node if child.tag in FLOW_NODES and child.get("id") not in targets
            ]
        else:
            inner = starts(node)
        graph.following.setdefault(node.get("id", ""), []).extend(inner)
    return graph


def starts(container: etree._Element) -> list[str]:
    """Where a (sub-)process begins: its start events, and its event sub-processes (which may start at any time)."""
    return _ids(
        container.xpath("./bpmn:startEvent/@id | ./bpmn:subProcess[@triggeredByEvent='true']/@id", namespaces=_NS)
    )


def reach(graph: FlowGraph, roots: Iterable[str], passes: Callable[[str], bool] = lambda _element: True) -> list[str]:
    """Every element reached from ``roots``, breadth first; an element ``passes`` refuses is reached but not left."""
    queue = list(dict.fromkeys(roots))
    seen = dict.fromkeys(queue)
    while queue:
        current = queue.pop(0)
        if not passes(current):
            continue
        for target in graph.following.get(current, []):
            if target not in seen:
                seen[target] = None
                queue.append(target)
    return list(seen)
