"""What a diagram may do with BPMN messages, and the message a process starts on.

Supported: events and receive tasks that *wait* for a named message — a process's start event, an
intermediate catch event, an interrupting boundary event, a receive task. A message arrives through
the API (``engine.items.messages``); a diagram never sends one, so throwing events and send tasks are
refused, as are the forms whose behaviour no test covers (non-interrupting boundaries, message starts
of sub-processes, correlation properties: an item is the correlation).
"""

from __future__ import annotations

from lxml import etree

from engine.bpmn.builder import BPMN_NS
from engine.bpmn.document import describe
from engine.bpmn.findings import Findings
from engine.bpmn.model import NS

_MESSAGE = f"{{{BPMN_NS}}}messageEventDefinition"
_WAITING = {"startEvent", "intermediateCatchEvent", "boundaryEvent"}


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _message_names(root: etree._Element) -> dict[str, str]:
    """Each ``bpmn:message`` id → its name (``""`` when it has none)."""
    messages = root.xpath("./bpmn:message", namespaces=NS)
    return {node.get("id", ""): (node.get("name") or "").strip() for node in messages}


def _waiting_nodes(process: etree._Element) -> list[tuple[etree._Element, str | None]]:
    """Every element of ``process`` with a message, and the message it references."""
    found = [(node, node.get("messageRef")) for node in process.iter(f"{{{BPMN_NS}}}receiveTask")]
    for definition in process.iter(_MESSAGE):
        event = definition.getparent()
        if event is not None:
            found.append((event, definition.get("messageRef")))
    return found


def _refusal(node: etree._Element, process: etree._Element) -> str | None:
    """Why this element's message is not supported, or None."""
    kind = _local(node)
    if kind not in _WAITING | {"receiveTask"}:
        return "消息不能由流程发送 A diagram does not send messages (message throw and end events, send tasks)"
    if kind == "boundaryEvent" and node.get("cancelActivity") == "false":
        return "非中断消息边界事件不受支持 Non-interrupting message boundary events are not supported"
    if kind == "startEvent" and node.getparent() is not process:
        return "消息开始事件只能位于流程顶层 A message start event starts a process, not a sub-process"
    if kind == "startEvent" and len(process.xpath("./bpmn:startEvent", namespaces=NS)) > 1:
        return (
            "以消息开始的流程只能有一个开始事件 A process that starts on a message has no other start event "
            "(an item starts either through POST /items or through a message)"
        )
    return None


def check_messages(root: etree._Element, process: etree._Element, findings: Findings) -> None:
    """Each message element is one of the supported kinds and names a ``bpmn:message`` with a name."""
    names = _message_names(root)
    for node, ref in _waiting_nodes(process):
        element = node.get("id", "")
        refused = _refusal(node, process)
        if refused is not None:
            findings.error("unsupported-element", element, f"{refused}: {describe(node)}")
            continue
        name = names.get(ref or "")
        # An event's reference to no bpmn:message at all is reported as reference-missing already.
        reported = bool(ref) and name is None and _local(node) != "receiveTask"
        if not name and not reported:
            findings.error(
                "message-unnamed",
                element,
                f"消息没有名称 {describe(node)} waits for no named message: reference a bpmn:message with a name "
                "(the name a sender gives in the API)",
            )


def message_start(process: etree._Element) -> str | None:
    """The name of the message the process starts on, or None when it starts without one."""
    root = process.getroottree().getroot()
    for start in process.xpath("./bpmn:startEvent", namespaces=NS):
        for definition in start.xpath("./bpmn:messageEventDefinition", namespaces=NS):
            return _message_names(root).get(definition.get("messageRef", "")) or None
    return None
