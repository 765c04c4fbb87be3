"""Reading an untrusted BPMN document: its bytes as UTF-8 XML, its one executable process and that process's key.

Also the two helpers the other deployment modules use to name an element in a message.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.bpmn.builder import BPMN_NS
from engine.bpmn.model import NS
from engine.bpmn.safe_xml import read_xml
from engine.store.errors import InvalidDiagram
from engine.store.models import ProcessDefinition

# The key is a URL segment (/processes/<key>/<version>/bpmn): an XML name, as BPMN ids are.
_KEY = re.compile(r"[^\W\d][\w.-]*\Z")
MAX_KEY = int(ProcessDefinition.__table__.c.key.type.length)  # type: ignore[attr-defined]
MAX_NAME = int(ProcessDefinition.__table__.c.name.type.length)  # type: ignore[attr-defined]


def local(node: etree._Element) -> str:
    return etree.QName(node).localname


def describe(node: etree._Element) -> str:
    name = node.get("name")
    return f"{local(node)} {node.get('id', '')!r}" + (f" ({name})" if name else "")


def decode(content: bytes) -> str:
    if b"\x00" in content:
        raise InvalidDiagram("BPMN 文件必须是 UTF-8 文本 The BPMN file must be UTF-8 text: it contains NUL bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDiagram(
            f"BPMN 文件必须是 UTF-8 编码 The BPMN file must be UTF-8 encoded (byte {exc.start} is not UTF-8)"
        ) from exc


def parse_xml(content: bytes) -> etree._Element:
    root = read_xml(content)
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidDiagram(
            f"不是 BPMN 2.0 文件 Not a BPMN 2.0 document: the root element is {root.tag!r}, "
            f"not definitions in the namespace {BPMN_NS}"
        )
    return root


def executable_process(root: etree._Element) -> etree._Element:
    processes = root.xpath("./bpmn:process", namespaces=NS)
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if not executable:
        found = ", ".join(f"{p.get('id', '')!r} (isExecutable={p.get('isExecutable')!r})" for p in processes)
        raise InvalidDiagram(
            '没有可执行的流程 No executable process: mark the process to deploy isExecutable="true"; '
            + (f"this file has {found}" if processes else "this file has no process at all"),
            errors=[{"element": p.get("id", ""), "message": "not executable"} for p in processes],
        )
    if len(executable) > 1:
        ids = ", ".join(repr(p.get("id", "")) for p in executable)
        raise InvalidDiagram(
            f"一个文件只能有一个可执行流程 Several executable processes ({ids}); deploy one per file",
            errors=[{"element": p.get("id", ""), "message": "one of several executable processes"} for p in executable],
        )
    process: etree._Element = executable[0]
    return process


def process_key(process: etree._Element) -> tuple[str, str]:
    key = process.get("id", "")
    if not _KEY.match(key) or len(key) > MAX_KEY:
        raise InvalidDiagram.at(
            key,
            f"流程 id 无效 The process id {key!r} cannot be a process key: it must start with a letter or '_', "
            f"contain only letters, digits, '_', '-' and '.', and be at most {MAX_KEY} characters long",
        )
    name = (process.get("name") or key).strip() or key
    if len(name) > MAX_NAME:
        raise InvalidDiagram.at(key, f"流程名称过长 The name of process {key!r} is longer than {MAX_NAME} characters")
    return key, name
