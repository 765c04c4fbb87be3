"""Deployment: untrusted BPMN bytes in, a versioned process definition row out.

Every failure is an ``InvalidDiagram`` that names the element at fault where there is one; the
parser's own exceptions never escape (some SpiffWorkflow parsers raise TypeError on bad input).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.builder import BPMN_NS, make_parser
from engine.bpmn.instance import serialize_specs
from engine.bpmn.model import NS, read_model
from engine.errors import InvalidDiagram, NotFound
from engine.models import ProcessDefinition

# Refused before parsing: DTDs are how XXE, billion laughs and quadratic blow-up get in.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class BuiltDefinition:
    key: str
    name: str
    xml: str
    sha256: str
    specs: str
    model: dict[str, Any]


def parse_xml(content: bytes) -> etree._Element:
    if _DTD.search(content):
        raise InvalidDiagram("BPMN 文件不得包含 DOCTYPE 或实体声明 DOCTYPE and entity declarations are not allowed")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidDiagram(f"XML 格式错误 Malformed XML: {exc}") from exc
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidDiagram(f"不是 BPMN 2.0 文件 Not a BPMN 2.0 document: root element is {root.tag!r}")
    return root


def _executable_process(root: etree._Element) -> etree._Element:
    processes = root.xpath("./bpmn:process[@isExecutable='true']", namespaces=NS)
    if not processes:
        raise InvalidDiagram('没有可执行的流程 No executable process: mark one process isExecutable="true"')
    if len(processes) > 1:
        ids = ", ".join(p.get("id", "") for p in processes)
        raise InvalidDiagram(f"一个文件只能有一个可执行流程 Several executable processes ({ids}); deploy one per file")
    process: etree._Element = processes[0]
    return process


def _parse_specs(root: etree._Element, key: str) -> str:
    try:
        parser = make_parser()
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocesses = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        element = getattr(exc, "id", "") or key
        raise InvalidDiagram(
            f"BPMN 解析失败 Cannot parse element {element!r}: {exc}", errors=[{"element": element, "message": str(exc)}]
        ) from exc
    except Exception as exc:  # the parsers raise TypeError, KeyError, ... on some real-world diagrams
        raise InvalidDiagram(
            f"BPMN 解析失败 Cannot parse process {key!r}: {type(exc).__name__}: {exc}",
            errors=[{"element": key, "message": f"{type(exc).__name__}: {exc}"}],
        ) from exc
    return serialize_specs(spec, subprocesses)


def build(content: bytes, forms_path: Path) -> BuiltDefinition:
    """Validate and parse a diagram without touching the database."""
    try:
        xml = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDiagram("BPMN 文件必须是 UTF-8 编码 The BPMN file must be UTF-8 encoded") from exc
    root = parse_xml(content)
    process = _executable_process(root)
    key = process.get("id", "")
    model = read_model(process, forms_path)
    specs = _parse_specs(root, key)
    return BuiltDefinition(
        key=key,
        name=model["name"],
        xml=xml,
        sha256=hashlib.sha256(content).hexdigest(),
        specs=specs,
        model=model,
    )


def deploy(session: Session, content: bytes, forms_path: Path, actor: str | None) -> tuple[ProcessDefinition, bool]:
    """Store a new version; identical XML already deployed returns that version (created=False)."""
    built = build(content, forms_path)
    existing = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == built.key, ProcessDefinition.sha256 == built.sha256)
    )
    if existing is not None:
        return existing, False
    current = session.scalar(select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == built.key))
    definition = ProcessDefinition(
        key=built.key,
        version=(current or 0) + 1,
        name=built.name,
        bpmn_xml=built.xml,
        sha256=built.sha256,
        specs=built.specs,
        model=built.model,
        deployed_by=actor,
    )
    session.add(definition)
    session.flush()
    return definition, True


def deploy_bundled(session: Session, processes_path: Path) -> list[tuple[ProcessDefinition, bool]]:
    return [
        deploy(session, path.read_bytes(), processes_path / "forms", actor=None)
        for path in sorted(processes_path.glob("*.bpmn"))
    ]


def latest(session: Session, key: str) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None:
        raise NotFound(
            f"未部署的流程 No process deployed with key {key!r}",
            errors=[{"field": "process", "message": "unknown process"}],
        )
    return definition


def get(session: Session, key: str, version: int) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    )
    if definition is None:
        raise NotFound(f"No process {key!r} version {version}")
    return definition


def all_definitions(session: Session) -> list[ProcessDefinition]:
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))
