"""Parsing a checked BPMN document with SpiffWorkflow into the serialized specs a definition stores.

Whatever the parser or the serializer still raises is turned into an ``InvalidDiagram`` naming the
element it was working on; nothing escapes as a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.node_parser import NodeParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.bpmn.builder import make_parser, serializer
from engine.bpmn.document import describe
from engine.bpmn.instance import serialize_specs
from engine.store.errors import InvalidDiagram

# SpiffWorkflow messages that need a word of advice (or a missing word) to be useful.
_ADVICE = {
    "Multiple outgoing flows are not supported for tasks of type": (
        "Several outgoing flows leave this element: join them with a gateway after it"
    ),
    "Non-default exclusive outgoing sequence flow without condition": (
        "This flow leaves a gateway without a condition: give it one, or make it the gateway's default flow"
    ),
}


def _node_being_parsed(exc: BaseException) -> etree._Element | None:
    """The innermost BPMN element a SpiffWorkflow parser was working on when ``exc`` was raised."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        parser = tb.tb_frame.f_locals.get("self")
        if isinstance(parser, NodeParser) and isinstance(parser.node, etree._Element) and parser.node.get("id"):
            found = parser.node
        tb = tb.tb_next
    return found


def _library_message(exc: Exception) -> tuple[str, BaseException]:
    """The parser's own message and the error behind it (it wraps any error in a ValidationException)."""
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    cause: BaseException = exc
    context = exc.__context__
    if isinstance(exc, ValidationException) and context is not None and message == repr(context):
        cause = context
    if cause is not exc or not isinstance(exc, ValidationException):
        message = f"{type(cause).__name__}: {cause}"
    # Some messages embed an lxml element's repr ("<Element {ns}sourceRef at 0x7f...>").
    message = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"\1", message).strip().rstrip(". ")
    return _ADVICE.get(message, message) + ".", cause


def _parse_error(exc: Exception, root: etree._Element, key: str) -> InvalidDiagram:
    message, cause = _library_message(exc)
    element = getattr(exc, "id", "") if isinstance(exc, ValidationException) else ""
    nodes = root.xpath("//*[@id=$id]", id=element) if element else []
    node = nodes[0] if nodes else None
    if node is None:
        node = _node_being_parsed(cause) or _node_being_parsed(exc)
        element = node.get("id", "") if node is not None else ""
    where = describe(node) if node is not None else f"process {key!r}"
    if isinstance(cause, RecursionError):
        message = "路径过长 The diagram has too long a chain of elements for the parser; shorten it or split it."
    elif cause is not exc or not isinstance(exc, ValidationException):
        message = f"SpiffWorkflow could not parse it ({message})"
    detail = f"BPMN 解析失败 Cannot parse {where}: {message}"
    return InvalidDiagram(detail, errors=[{"element": element or key, "message": message}])


def _storage_error(exc: Exception, root: etree._Element, specs: list[Any], key: str) -> InvalidDiagram:
    """The parser accepted the diagram but the serializer cannot store one of its elements: name it."""
    registry = serializer().registry
    for process_spec in specs:
        for task_spec in process_spec.task_specs.values():
            try:
                json.dumps(registry.convert(task_spec))
            except Exception as inner:  # whatever fails here is the answer we are looking for
                element = getattr(task_spec, "bpmn_id", None) or key
                nodes = root.xpath("//*[@id=$id]", id=element)
                where = describe(nodes[0]) if nodes else repr(element)
                message = (
                    f"此类元素不受支持 {where} is not supported by the engine: its {type(task_spec).__name__} "
                    f"cannot be stored ({inner})"
                )
                return InvalidDiagram.at(element, message)
    return InvalidDiagram.at(key, f"BPMN 解析失败 Cannot store process {key!r}: {type(exc).__name__}: {exc}")


def parse_specs(root: etree._Element, key: str) -> str:
    try:
        parser = make_parser()
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        # A call of a process that is not in the file is resolved when reached (``engine.bpmn.calls``).
        found = parser.get_subprocess_specs(key, require_call_activity_specs=False)
        subprocesses = {name: sub for name, sub in found.items() if sub is not None}
    except Exception as exc:  # the parsers raise TypeError, KeyError, AssertionError, ... on real-world diagrams
        raise _parse_error(exc, root, key) from exc
    try:
        return serialize_specs(spec, subprocesses)
    except Exception as exc:  # elements the parser knows but the serializer configuration does not
        raise _storage_error(exc, root, [spec, *subprocesses.values()], key) from exc
