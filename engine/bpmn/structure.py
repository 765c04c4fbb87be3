"""Structural checks of a BPMN document, run before SpiffWorkflow sees it.

They report, naming the element at fault, what SpiffWorkflow's parser handles badly: it reports a
dangling sequence flow as "two items with the same ID", raises TypeError or KeyError on unresolved
references, and loops forever on a data object it cannot find. The parser must not see a diagram
with any of these errors.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS
from engine.bpmn.call_rules import check_calls
from engine.bpmn.document import describe
from engine.bpmn.external import EXTERNAL
from engine.bpmn.findings import Findings
from engine.bpmn.flow_graph import CONTAINERS, FLOW_NODES
from engine.bpmn.message_rules import check_messages
from engine.bpmn.model import NS

# Event definition -> (its reference attribute, the root element it must name).
EVENT_REFERENCES = {
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
}
UNSUPPORTED = {
    "dataStore": "数据存储 Data stores are not supported",
    "dataStoreReference": "数据存储 Data stores are not supported",
    "complexGateway": "复杂网关 Complex gateways are not supported: use an inclusive or exclusive gateway",
    "sendTask": "发送任务 Send tasks are not supported: a diagram does not send messages",
    "correlationProperty": "消息关联属性 Correlation properties are not supported: a message is sent to an item by its "
    "id or business key",
}
# Read from the whole file by the parser; everything else from the process.
_FILE_WIDE = {"dataStore", "correlationProperty"}


def _bpmn_elements(root: etree._Element) -> Iterator[etree._Element]:
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if node.get("id") is not None:
            yield node


def _check_ids(root: etree._Element, findings: Findings) -> dict[str, etree._Element]:
    by_id: dict[str, etree._Element] = {}
    for node in _bpmn_elements(root):
        element = node.get("id", "")
        if element in by_id:
            findings.error(
                "duplicate-id",
                element,
                f"元素 id 重复 Duplicate id {element!r}: {describe(by_id[element])} and {describe(node)}",
                node.sourceline,
            )
            continue
        by_id[element] = node
    return by_id


def _check_flows(container: etree._Element, findings: Findings) -> None:
    """Each sequence flow joins two flow nodes of its own (sub-)process."""
    nodes = {child.get("id") for child in container if child.tag in FLOW_NODES}
    for flow in container.xpath("./bpmn:sequenceFlow", namespaces=NS):
        element = flow.get("id", "")
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if not ref:
                findings.error("flow-dangling", element, f"顺序流缺少端点 Sequence flow {element!r} has no {end}")
            elif ref not in nodes:
                findings.error(
                    "flow-dangling",
                    element,
                    f"顺序流的端点不存在 Sequence flow {element!r} {'starts at' if end == 'sourceRef' else 'goes to'} "
                    f"{ref!r}, which is not an element of {describe(container)}",
                )


def _check_references(root: etree._Element, process: etree._Element, findings: Findings) -> None:
    for definition_tag, (attribute, target_tag) in EVENT_REFERENCES.items():
        targets = {node.get("id") for node in root.xpath(f"./bpmn:{target_tag}", namespaces=NS)}
        for definition in process.iter(f"{{{BPMN_NS}}}{definition_tag}"):
            ref = definition.get(attribute)
            if ref and ref not in targets:
                event = definition.getparent()
                element = event.get("id", "") if event is not None else ""
                findings.error(
                    "reference-missing",
                    element,
                    f"引用的{target_tag}不存在 {describe(event) if event is not None else element} refers to "
                    f"{target_tag} {ref!r} ({attribute}), which this file does not define",
                )


def _check_calls(root: etree._Element, process: etree._Element, findings: Findings) -> None:
    check_calls(root, findings)
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        # The parser reads every business rule task of the file, deployed or not, and needs this attribute.
        if task.get(f"{{{CAMUNDA_NS}}}decisionRef") is None:
            findings.error(
                "decision-ref-missing",
                task.get("id", ""),
                f"业务规则任务缺少决策 {describe(task)} has no camunda:decisionRef: name the DMN decision it evaluates",
            )


def _visible_data_objects(node: etree._Element) -> set[str]:
    """Data objects SpiffWorkflow resolves for a task: its (sub-)process's, and the one directly around it.

    Any other reference makes its parser loop forever, so these are refused here.
    """
    visible: set[str] = set()
    container = node.getparent()
    for level in range(2):
        if container is None or container.tag not in CONTAINERS:
            break
        visible.update(obj.get("id", "") for obj in container.xpath("./bpmn:dataObject", namespaces=NS))
        if container.tag == f"{{{BPMN_NS}}}process" or level == 1:
            break
        container = container.getparent()
    return visible


def _check_data(process: etree._Element, by_id: dict[str, etree._Element], findings: Findings) -> None:
    paths = "./bpmn:dataInputAssociation/bpmn:sourceRef | ./bpmn:dataOutputAssociation/bpmn:targetRef"
    for node in process.iter(*FLOW_NODES):
        for ref in node.xpath(paths, namespaces=NS):
            name = (ref.text or "").strip()
            target = by_id.get(name)
            element = node.get("id", "")
            if target is None or target.tag != f"{{{BPMN_NS}}}dataObjectReference":
                findings.error(
                    "data-reference",
                    element,
                    f"数据关联无法解析 {describe(node)} has a data association with {name!r}, which is not a data "
                    "object reference (only data objects are supported)",
                )
            elif target.get("dataObjectRef") not in _visible_data_objects(node):
                findings.error(
                    "data-reference",
                    element,
                    f"数据对象不可见 {describe(node)} uses data object reference {name!r}, whose data object "
                    f"{target.get('dataObjectRef')!r} is not in this (sub-)process or the one directly around it",
                )


def _check_unsupported(root: etree._Element, process: etree._Element, findings: Findings) -> None:
    for tag, message in UNSUPPORTED.items():
        scope = root if tag in _FILE_WIDE else process
        for node in scope.iter(f"{{{BPMN_NS}}}{tag}"):
            findings.error("unsupported-element", node.get("id", ""), f"{message}: {describe(node)}")


def _check_service_tasks(process: etree._Element, findings: Findings) -> None:
    """A service task is a job for external workers, one at a time; nothing else the engine could run."""
    for node in process.iter(f"{{{BPMN_NS}}}serviceTask"):
        element = node.get("id", "")
        if node.get(f"{{{CAMUNDA_NS}}}type") != EXTERNAL:
            findings.error(
                "unsupported-element",
                element,
                f'只支持外部服务任务 Only external service tasks are supported: set camunda:type="external" and '
                f"camunda:topic on {describe(node)}",
            )
        elif node.xpath("./bpmn:multiInstanceLoopCharacteristics | ./bpmn:standardLoopCharacteristics", namespaces=NS):
            findings.error(
                "unsupported-element",
                element,
                f"外部服务任务不能多实例或循环 {describe(node)} cannot be multi-instance or a loop: let the worker "
                "handle every element in one task",
            )


def _check_event_subprocesses(process: etree._Element, findings: Findings) -> None:
    """An event sub-process runs beside its process (a deadline watch); the engine cannot interrupt the process."""
    for node in process.xpath(".//bpmn:subProcess[@triggeredByEvent='true']/bpmn:startEvent", namespaces=NS):
        if node.get("isInterrupting", "true") != "false":
            findings.error(
                "unsupported-element",
                node.get("id", ""),
                f"中断型事件子流程不受支持 {describe(node)} would interrupt its process, which is not supported: set "
                'isInterrupting="false" (the process goes on beside it), or use an interrupting boundary event',
            )


def check_structure(root: etree._Element, process: etree._Element, findings: Findings) -> None:
    """What SpiffWorkflow's parser would report wrongly, crash on or hang on, reported with the element named."""
    by_id = _check_ids(root, findings)
    _check_unsupported(root, process, findings)
    check_messages(root, process, findings)
    _check_service_tasks(process, findings)
    _check_event_subprocesses(process, findings)
    for container in process.iter(*CONTAINERS):
        _check_flows(container, findings)
    _check_references(root, process, findings)
    _check_calls(root, process, findings)
    _check_data(process, by_id, findings)
