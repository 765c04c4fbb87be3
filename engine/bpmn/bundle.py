"""A deployment bundle: one diagram and the JSON Schema forms its user tasks name, as files.

Three ways in, one shape: a folder (``processes/``, for ``rectiflow init`` and the tests), a zip
(``<name>.bpmn`` at the top and ``forms/<key>.json``) and parts sent one by one (the API builds the
mapping itself). One way out: ``to_zip``, the zip a version's download gives, which deploys again
as the same version.

A zip is untrusted: it is refused from its central directory alone (count, declared sizes, ratio,
names) before a member is read, and a member that inflates to more than it declares fails its
checksum (``zipfile`` stops at the declared size).
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.bpmn.document import executable_process, parse_xml
from engine.bpmn.model import NS, form_key_problem, form_keys
from engine.bpmn.safe_xml import read_xml
from engine.store.errors import InvalidDiagram, InvalidInput, TooLarge

FORMS = "forms"
MAX_MEMBERS = 200
"""Files in a bundle's zip: a process has a diagram and a form per user task."""
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024
"""Members smaller than this (uncompressed) cannot hurt, whatever their compression ratio."""
# Fixed so that the same version always downloads as the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    """A diagram's bytes, its forms' bytes by form key and its DMN files' bytes by file name, exactly as deployed."""

    diagram: bytes
    forms: Mapping[str, bytes] = field(default_factory=dict)
    decisions: Mapping[str, bytes] = field(default_factory=dict)


def is_zip(content: bytes) -> bool:
    """A zip's first bytes (XML never starts so): the one upload field takes either."""
    return content.startswith(b"PK\x03\x04")


def _may_be_xml(content: bytes) -> bool:
    """Whether the upload could be a diagram at all (else there is nothing to lint); empty is malformed XML.

    XML in UTF-16 passes too: the parser then says it must be UTF-8.
    """
    text = content.removeprefix(b"\xef\xbb\xbf").lstrip()
    return not text or text.startswith((b"<", b"\xff\xfe", b"\xfe\xff"))


def from_parts(
    file: bytes, forms: Mapping[str, bytes], max_bytes: int, decisions: Mapping[str, bytes] | None = None
) -> Bundle:
    """An upload: a bundle's zip alone, or the diagram with its forms and DMN files beside it."""
    if not is_zip(file):
        if not _may_be_xml(file):
            message = "不是 BPMN 文件或流程包 The file is neither a BPMN (XML) diagram nor a bundle's .zip"
            raise InvalidInput(message, errors=[{"field": "file", "message": message}])
        return Bundle(file, forms, dict(decisions or {}))
    if forms:
        message = "流程包已含表单 Send the forms inside the zip (forms/<key>.json), not beside it"
        raise InvalidInput(message, errors=[{"field": "form", "message": message}])
    if decisions:
        message = "流程包已含决策 Send the DMN files inside the zip (<name>.dmn at the top), not beside it"
        raise InvalidInput(message, errors=[{"field": "decision", "message": message}])
    return from_zip(file, max_bytes)


def from_folder(diagram: Path, forms_folder: Path) -> Bundle:
    """The diagram file, the forms it names from ``forms_folder`` (``with_folder_forms``) and the ``*.dmn`` files
    beside it that hold a decision its business rule tasks name."""
    found = with_folder_forms(diagram.read_bytes(), forms_folder)
    return Bundle(found.diagram, found.forms, _folder_decisions(found.diagram, diagram.parent))


def _folder_decisions(content: bytes, folder: Path) -> dict[str, bytes]:
    named = set(
        executable_process(parse_xml(content)).xpath(".//bpmn:businessRuleTask/@camunda:decisionRef", namespaces=NS)
    )
    found = {}
    for path in sorted(folder.glob("*.dmn")):
        data = path.read_bytes()
        try:
            held = {node.get("id") for node in read_xml(data).iterchildren("{*}decision")}
        except InvalidDiagram:
            continue  # not a decision this diagram can use
        if held & named:
            found[path.name] = data
    return found


def with_folder_forms(content: bytes, forms_folder: Path) -> Bundle:
    """The diagram and the forms it names from ``forms_folder``: nothing outside it is opened, missing ones left out."""
    forms = {}
    folder = forms_folder.resolve()
    for key in form_keys(executable_process(parse_xml(content))):
        if form_key_problem(key) is not None:
            continue  # refused by the model, naming the task
        try:
            path = (folder / key).resolve()
            found = path.parent == folder and path.is_file()
        except (OSError, ValueError):  # a name too long for the file system, ...
            found = False
        if found:
            forms[key] = path.read_bytes()
    return Bundle(content, forms)


def _refused(member: str | None, message: str, too_large: bool = False) -> InvalidInput | TooLarge:
    error = {"field": "file", "message": message} | ({"member": member} if member is not None else {})
    return (TooLarge if too_large else InvalidInput)(message, errors=[error])


def _path_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\\" in name or name.startswith("/") or ":" in name or ".." in name.split("/"):
        return f"{name!r} 的路径不安全 Unsafe path in the bundle: {name!r} (no absolute path, '..', '\\' or drive)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{name!r} 是链接，流程包中不能有链接 The bundle may not hold a link: {name!r}"
    if info.flag_bits & 0x1:
        return f"{name!r} 已加密，无法读取 {name!r} is encrypted"
    return None


def _check_directory(infos: list[zipfile.ZipInfo], max_bytes: int) -> None:
    if len(infos) > MAX_MEMBERS:
        raise _refused(
            infos[MAX_MEMBERS].filename,
            f"流程包文件过多 The bundle holds {len(infos)} files, over the limit of {MAX_MEMBERS}",
            too_large=True,
        )
    total = 0
    for info in infos:
        problem = _path_problem(info)
        if problem is not None:
            raise _refused(info.filename, problem)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            message = (
                f"{info.filename!r} 压缩比过高 {info.filename!r} expands {ratio:.0f} times, "
                f"over the limit of {MAX_RATIO}"
            )
            raise _refused(info.filename, message, too_large=True)
        total += info.file_size
        if total > max_bytes:
            message = (
                f"流程包解压后过大（至 {info.filename!r}） The bundle unpacks to more than {max_bytes:,} bytes "
                f"(at {info.filename!r})"
            )
            raise _refused(info.filename, message, too_large=True)


def from_zip(content: bytes, max_bytes: int) -> Bundle:
    """Read a bundle's zip: exactly one ``*.bpmn`` at the top, ``*.dmn`` beside it, ``forms/*.json``, nothing else."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _refused(None, f"不是有效的 zip 文件 Not a readable zip file: {exc}") from exc
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        _check_directory(infos, max_bytes)
        diagrams, forms, decisions = [], {}, {}
        for info in infos:
            path = PurePosixPath(info.filename)
            if len(path.parts) == 1 and path.suffix == ".bpmn":
                diagrams.append(info)
            elif len(path.parts) == 1 and path.suffix == ".dmn":
                decisions[path.name] = info
            elif len(path.parts) == 2 and path.parts[0] == FORMS and form_key_problem(path.name) is None:
                if path.name in forms:
                    raise _refused(info.filename, f"{info.filename!r} 重复 {info.filename!r} is in the bundle twice")
                forms[path.name] = info
            else:
                raise _refused(
                    info.filename,
                    f"{info.filename!r} 不属于流程包 {info.filename!r} does not belong in a bundle: "
                    "it holds one *.bpmn at the top, *.dmn decision tables and forms/<key>.json",
                )
        if len(diagrams) != 1:
            names = ", ".join(repr(info.filename) for info in diagrams) or "none"
            message = f"流程包必须恰有一个 .bpmn 文件 The bundle must hold exactly one *.bpmn at the top ({names})"
            raise _refused(None, message)
        return Bundle(
            _read(archive, diagrams[0]),
            {key: _read(archive, info) for key, info in forms.items()},
            {name: _read(archive, info) for name, info in decisions.items()},
        )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise _refused(info.filename, f"无法读取 {info.filename!r} 文件 Cannot read {info.filename!r}: {exc}") from exc


def to_zip(bundle: Bundle, diagram_name: str) -> bytes:
    """The bundle as a zip ``from_zip`` reads back: the same bytes for the same bundle, always."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        forms = ((f"{FORMS}/{key}", bundle.forms[key]) for key in sorted(bundle.forms))
        decisions = ((name, bundle.decisions[name]) for name in sorted(bundle.decisions))
        for name, data in [(diagram_name, bundle.diagram), *decisions, *forms]:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


class FormRefused(InvalidDiagram):
    """A form of the bundle that cannot be used, naming it; ``code`` is the lint's (processes/README.md, "Lint")."""

    def __init__(self, key: str, code: str, message: str) -> None:
        super().__init__(message, errors=[{"form": key, "code": code, "message": message}])
        self.code = code


def read_form(key: str, content: bytes) -> dict[str, Any]:
    """One form parsed and checked as a JSON Schema; ``FormRefused`` when it is not."""
    problem = form_key_problem(key)
    if problem is not None:
        raise FormRefused(key, "form-key", problem)
    try:
        schema = json.loads(content.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
        raise FormRefused(
            key, "form-invalid", f"表单 {key!r} 无法解析 Form {key!r} is not valid UTF-8 JSON: {exc}"
        ) from exc
    if not isinstance(schema, dict):
        raise FormRefused(key, "form-invalid", f"表单 {key!r} 必须是对象 Form {key!r} must be a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        message = f"表单 {key!r} 不是有效的表单定义 Form {key!r} is not a valid JSON Schema: {exc.message}"
        raise FormRefused(key, "form-invalid", message) from exc
    return schema


def canonical(schema: dict[str, Any]) -> bytes:
    """A form's content, not its layout: what the version's hash covers."""
    return json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest(diagram: bytes, schemas: Mapping[str, dict[str, Any]], decisions: Mapping[str, bytes] | None = None) -> str:
    """SHA-256 over a listing of the diagram's bytes, each form's content by key and each DMN file's bytes by
    name, one line each, sorted (a bundle without DMN files hashes as it did before bundles could hold them).

    Forms count by content (``canonical``): reformatting one makes no new version, editing it does.
    """
    lines = [f"{hashlib.sha256(diagram).hexdigest()}  diagram"]
    lines += [f"{hashlib.sha256(canonical(schemas[key])).hexdigest()}  {FORMS}/{key}" for key in sorted(schemas)]
    lines += [f"{hashlib.sha256(content).hexdigest()}  {name}" for name, content in sorted((decisions or {}).items())]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
