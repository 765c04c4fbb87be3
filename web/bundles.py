"""Uploaded bundles: the files of a multipart request as an ``engine.bpmn.bundle.Bundle``."""

from __future__ import annotations

from collections.abc import Iterable

from flask import request
from werkzeug.datastructures import FileStorage

from engine.bpmn import bundle
from engine.store.errors import InvalidInput
from web import db


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def forms_of(forms: Iterable[FileStorage], field: str = "form") -> dict[str, bytes]:
    """Form files by key: each is named by its file name, the form key."""
    read: dict[str, bytes] = {}
    for form in forms:
        key = form.filename or ""
        if not key:
            raise _refused(field, "表单文件没有文件名 A form part has no file name: its file name is the form key")
        if key in read:
            raise _refused(field, f"表单 {key!r} 重复 Form {key!r} is sent twice")
        read[key] = form.read()
    return read


def decisions_of(files: Iterable[FileStorage]) -> dict[str, bytes]:
    """DMN files sent beside a diagram, by file name."""
    read: dict[str, bytes] = {}
    for file in files:
        name = file.filename or ""
        if not name.endswith(".dmn") or "/" in name or "\\" in name or name in read:
            message = f"决策文件名无效或重复 Each DMN part is named <name>.dmn, once ({name!r})"
            raise _refused("decision", message)
        read[name] = file.read()
    return read


def from_upload(
    file: FileStorage, forms: Iterable[FileStorage], field: str = "form", decisions: Iterable[FileStorage] = ()
) -> bundle.Bundle:
    """``file`` is the diagram or the bundle's zip; ``forms`` the form files beside a diagram (``forms_of``),
    ``decisions`` its DMN files (``decisions_of``)."""
    if request.form.getlist(field):
        # Sent as text, not as a file part: it would be silently left out of the bundle.
        message = "表单须作为文件上传，文件名即表单键 Each form is sent as a file part named by its form key"
        raise _refused(field, message)
    read = forms_of(forms, field)
    # A zip unpacks to no more than a request may carry.
    return bundle.from_parts(file.read(), read, db.settings().max_upload_bytes, decisions_of(decisions))


def from_files(files: list[FileStorage], field: str) -> bundle.Bundle:
    """One list of files (a page's ``<input type=file multiple>``): a zip alone, or one .bpmn with its .json forms."""
    main = [f for f in files if (f.filename or "").lower().endswith((".bpmn", ".zip", ".xml"))]
    if len(main) != 1:
        message = "请选择一个 .bpmn 文件（及其表单）或一个 .zip 流程包 Choose one .bpmn (with its forms) or one .zip"
        raise _refused(field, message)
    return from_upload(main[0], [f for f in files if f is not main[0]], field)
