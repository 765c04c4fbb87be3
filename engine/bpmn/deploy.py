"""Deployment: untrusted BPMN bytes in, a versioned process definition row out.

Every failure is an ``InvalidDiagram`` that names the element at fault where there is one. The
checks here run before SpiffWorkflow sees the document, for what its parser handles badly: it
reports a dangling sequence flow as "two items with the same ID", raises TypeError or KeyError on
unresolved references, and loops forever on a data object it cannot find. Whatever it still raises
is turned into an ``InvalidDiagram`` naming the element it was parsing; nothing escapes as a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.node_parser import NodeParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.bpmn.builder import BPMN_NS, CAMUNDA_NS, make_parser, serializer
from engine.bpmn.instance import serialize_specs
from engine.bpmn.model import NS, read_model
from engine.errors import InvalidDiagram, NotFound
from engine.models import ProcessDefinition

# Refused before parsing: DTDs are how XXE, billion laughs and quadratic blow-up get in.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# The key is a URL segment (/processes/<key>/<version>/bpmn): an XML name, as BPMN ids are.
_KEY = re.compile(r"[^\W\d][\w.-]*\Z")
MAX_KEY = int(ProcessDefinition.__table__.c.key.type.length)  # type: ignore[attr-defined]
MAX_NAME = int(ProcessDefinition.__table__.c.name.type.length)  # type: ignore[attr-defined]


def _bpmn(*names: str) -> frozenset[str]:
    return frozenset(f"{{{BPMN_NS}}}{name}" for name in names)


FLOW_NODES = _bpmn(
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
)  # fmt: skip
CONTAINERS = _bpmn("process", "subProcess", "transaction", "adHocSubProcess")
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
    "businessRuleTask": "业务规则任务 Business rule tasks (DMN decisions) are not supported: use a gateway condition",
    "complexGateway": "复杂网关 Complex gateways are not supported: use an inclusive or exclusive gateway",
}


@dataclass(frozen=True)
class BuiltDefinition:
    key: str
    name: str
    xml: str
    sha256: str
    specs: str
    model: dict[str, Any]


def _invalid(element: str, message: str) -> InvalidDiagram:
    return InvalidDiagram(message, errors=[{"element": element, "message": message}])


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _describe(node: etree._Element) -> str:
    name = node.get("name")
    return f"{_local(node)} {node.get('id', '')!r}" + (f" ({name})" if name else "")


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
    if _DTD.search(content):
        raise InvalidDiagram("BPMN 文件不得包含 DOCTYPE 或实体声明 DOCTYPE and entity declarations are not allowed")
    parser = etree.XMLParser(
        # Read as the UTF-8 it was checked to be, whatever its declaration claims: what is stored is
        # then what was parsed.
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidDiagram(f"XML 格式错误 Malformed XML: {exc}") from exc
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise InvalidDiagram(
            f"不是 BPMN 2.0 文件 Not a BPMN 2.0 document: the root element is {root.tag!r}, "
            f"not definitions in the namespace {BPMN_NS}"
        )
    return root


def _executable_process(root: etree._Element) -> etree._Element:
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


def _key(process: etree._Element) -> tuple[str, str]:
    key = process.get("id", "")
    if not _KEY.match(key) or len(key) > MAX_KEY:
        raise _invalid(
            key,
            f"流程 id 无效 The process id {key!r} cannot be a process key: it must start with a letter or '_', "
            f"contain only letters, digits, '_', '-' and '.', and be at most {MAX_KEY} characters long",
        )
    name = (process.get("name") or key).strip() or key
    if len(name) > MAX_NAME:
        raise _invalid(key, f"流程名称过长 The name of process {key!r} is longer than {MAX_NAME} characters")
    return key, name


def _bpmn_elements(root: etree._Element) -> Iterator[etree._Element]:
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if node.get("id") is not None:
            yield node


def _check_ids(root: etree._Element) -> dict[str, etree._Element]:
    by_id: dict[str, etree._Element] = {}
    for node in _bpmn_elements(root):
        element = node.get("id", "")
        if element in by_id:
            raise _invalid(
                element,
                f"元素 id 重复 Duplicate id {element!r}: {_describe(by_id[element])} and {_describe(node)}",
            )
        by_id[element] = node
    return by_id


def _check_flows(container: etree._Element) -> None:
    """Each sequence flow joins two flow nodes of its own (sub-)process."""
    nodes = {child.get("id") for child in container if child.tag in FLOW_NODES}
    for flow in container.xpath("./bpmn:sequenceFlow", namespaces=NS):
        element = flow.get("id", "")
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if not ref:
                raise _invalid(element, f"顺序流缺少端点 Sequence flow {element!r} has no {end}")
            if ref not in nodes:
                raise _invalid(
                    element,
                    f"顺序流的端点不存在 Sequence flow {element!r} {'starts at' if end == 'sourceRef' else 'goes to'} "
                    f"{ref!r}, which is not an element of {_describe(container)}",
                )


def _check_references(root: etree._Element, process: etree._Element) -> None:
    for definition_tag, (attribute, target_tag) in EVENT_REFERENCES.items():
        targets = {node.get("id") for node in root.xpath(f"./bpmn:{target_tag}", namespaces=NS)}
        for definition in process.iter(f"{{{BPMN_NS}}}{definition_tag}"):
            ref = definition.get(attribute)
            if ref and ref not in targets:
                event = definition.getparent()
                element = event.get("id", "") if event is not None else ""
                raise _invalid(
                    element,
                    f"引用的{target_tag}不存在 {_describe(event) if event is not None else element} refers to "
                    f"{target_tag} {ref!r} ({attribute}), which this file does not define",
                )


def _check_calls(root: etree._Element, process: etree._Element) -> None:
    processes = {node.get("id") for node in root.xpath("./bpmn:process", namespaces=NS)}
    for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
        called = call.get("calledElement")
        if called and called not in processes:
            raise _invalid(
                call.get("id", ""),
                f"调用的流程不存在 {_describe(call)} calls process {called!r}, which is not in this file "
                "(a call activity can only call a process of the same file)",
            )
    for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        # The parser reads every business rule task of the file, deployed or not, and needs this attribute.
        if task.get(f"{{{CAMUNDA_NS}}}decisionRef") is None:
            raise _invalid(
                task.get("id", ""),
                f"业务规则任务缺少决策 {_describe(task)} has no camunda:decisionRef (business rule tasks are not "
                "supported; remove it or give it a decisionRef)",
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


def _check_data(process: etree._Element, by_id: dict[str, etree._Element]) -> None:
    paths = "./bpmn:dataInputAssociation/bpmn:sourceRef | ./bpmn:dataOutputAssociation/bpmn:targetRef"
    for node in process.iter(*FLOW_NODES):
        for ref in node.xpath(paths, namespaces=NS):
            name = (ref.text or "").strip()
            target = by_id.get(name)
            element = node.get("id", "")
            if target is None or target.tag != f"{{{BPMN_NS}}}dataObjectReference":
                raise _invalid(
                    element,
                    f"数据关联无法解析 {_describe(node)} has a data association with {name!r}, which is not a data "
                    "object reference (only data objects are supported)",
                )
            if target.get("dataObjectRef") not in _visible_data_objects(node):
                raise _invalid(
                    element,
                    f"数据对象不可见 {_describe(node)} uses data object reference {name!r}, whose data object "
                    f"{target.get('dataObjectRef')!r} is not in this (sub-)process or the one directly around it",
                )


def _check_unsupported(root: etree._Element, process: etree._Element) -> None:
    for tag, message in UNSUPPORTED.items():
        # Data stores are read from the whole file by the parser, everything else from the process.
        scope = root if tag == "dataStore" else process
        for node in scope.iter(f"{{{BPMN_NS}}}{tag}"):
            raise _invalid(node.get("id", ""), f"{message}: {_describe(node)}")


def check_structure(root: etree._Element, process: etree._Element) -> None:
    """What SpiffWorkflow's parser would report wrongly, crash on or hang on, refused with the element named."""
    by_id = _check_ids(root)
    _check_unsupported(root, process)
    for container in process.iter(*CONTAINERS):
        _check_flows(container)
    _check_references(root, process)
    _check_calls(root, process)
    _check_data(process, by_id)


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
    where = _describe(node) if node is not None else f"process {key!r}"
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
                where = _describe(nodes[0]) if nodes else repr(element)
                message = (
                    f"此类元素不受支持 {where} is not supported by the engine: its {type(task_spec).__name__} "
                    f"cannot be stored ({inner})"
                )
                return _invalid(element, message)
    return _invalid(key, f"BPMN 解析失败 Cannot store process {key!r}: {type(exc).__name__}: {exc}")


def _parse_specs(root: etree._Element, key: str) -> str:
    try:
        parser = make_parser()
        parser.add_bpmn_xml(root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocesses = parser.get_subprocess_specs(key)
    except Exception as exc:  # the parsers raise TypeError, KeyError, AssertionError, ... on real-world diagrams
        raise _parse_error(exc, root, key) from exc
    try:
        return serialize_specs(spec, subprocesses)
    except Exception as exc:  # elements the parser knows but the serializer configuration does not
        raise _storage_error(exc, root, [spec, *subprocesses.values()], key) from exc


def build(content: bytes, forms_path: Path) -> BuiltDefinition:
    """Validate and parse a diagram without touching the database."""
    xml = decode(content)
    root = parse_xml(content)
    process = _executable_process(root)
    key, name = _key(process)
    check_structure(root, process)
    model = read_model(process, forms_path)
    model["name"] = name
    specs = _parse_specs(root, key)
    return BuiltDefinition(
        key=key,
        name=name,
        xml=xml,
        sha256=hashlib.sha256(content).hexdigest(),
        specs=specs,
        model=model,
    )


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )


def deploy(session: Session, content: bytes, forms_path: Path, actor: str | None) -> tuple[ProcessDefinition, bool]:
    """Store a new version, unless it would repeat the latest one (created=False, that version returned).

    "Repeat" means the same XML and the same forms: a designer who edits only a form file gets a new
    version too, and redeploying an older diagram after a newer one makes it the latest again.
    Two deployments of one key at once both read the same latest version: the second one's insert
    then violates the (key, version) unique constraint, is rolled back to its savepoint, and tries again.
    """
    built = build(content, forms_path)
    for _attempt in range(50):  # each retry follows another deployment's commit: progress is certain
        current = _latest(session, built.key)
        if current is not None and current.sha256 == built.sha256 and current.model == built.model:
            return current, False
        definition = ProcessDefinition(
            key=built.key,
            version=(current.version if current else 0) + 1,
            name=built.name,
            bpmn_xml=built.xml,
            sha256=built.sha256,
            specs=built.specs,
            model=built.model,
            deployed_by=actor,
        )
        try:
            with session.begin_nested():
                session.add(definition)
        except IntegrityError:
            continue
        return definition, True
    raise RuntimeError(f"could not store a new version of {built.key!r}: too many concurrent deployments")


def deploy_bundled(session: Session, processes_path: Path) -> list[tuple[ProcessDefinition, bool]]:
    return [
        deploy(session, path.read_bytes(), processes_path / "forms", actor=None)
        for path in sorted(processes_path.glob("*.bpmn"))
    ]


def latest(session: Session, key: str) -> ProcessDefinition:
    definition = _latest(session, key)
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
