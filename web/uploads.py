"""Upload routes with their own body cap: a workbook (parsed with no transaction open), an evidence file,
a submission (with its files)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from flask import Flask, request

from engine.intake import files
from engine.ledger import ledger
from engine.ledger.ledger_import import LedgerPreview
from engine.store.errors import TooLarge
from web import db

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "rectiflow_workbook_body"
_EVIDENCE = "rectiflow_evidence_body"
_INTAKE = "rectiflow_intake_body"
# Room for a multipart body's boundaries, part headers and small fields around the one file.
MULTIPART_SLACK = 64 * 1024


def workbook_body(view: F) -> F:
    """Mark a route whose request body may be as large as ``RECTIFLOW_IMPORT_MAX_BYTES``."""
    setattr(view, _MARK, True)
    return view


def evidence_body(view: F) -> F:
    """Mark a route taking one evidence file, as large as ``RECTIFLOW_EVIDENCE_MAX_FILE_BYTES``."""
    setattr(view, _EVIDENCE, True)
    return view


def intake_body(view: F) -> F:
    """Mark a submission's route: its body may be no larger than ``RECTIFLOW_INTAKE_MAX_BYTES``, plus its files'."""
    setattr(view, _INTAKE, True)
    return view


def _too_large(limit: int, variable: str, field: str) -> TooLarge:
    what = "文件过大 Too large: the upload" if field == "file" else "内容过长 Too large: the request"
    message = f"{what} is over {limit:,} bytes ({variable})"
    return TooLarge(message, errors=[{"field": field, "message": message}])


def _body_cap() -> None:
    """Set before any hook reads the body (the pages' CSRF check reads the form)."""
    if db.route_marked(_MARK):
        limit, variable, field = db.settings().imports.max_bytes, "RECTIFLOW_IMPORT_MAX_BYTES", "file"
        request.max_content_length = limit
    elif db.route_marked(_EVIDENCE):
        limit, variable, field = db.settings().evidence.max_file_bytes, "RECTIFLOW_EVIDENCE_MAX_FILE_BYTES", "file"
        request.max_content_length = limit + MULTIPART_SLACK
    elif db.route_marked(_INTAKE):
        limit, variable, field = db.settings().intake_max_bytes, "RECTIFLOW_INTAKE_MAX_BYTES", "body"
        if request.mimetype == "multipart/form-data":
            # Room for the files a submission carries; each is held to the evidence limit as it is read.
            limit += files.MAX_FILES * (db.settings().evidence.max_file_bytes + MULTIPART_SLACK)
        request.max_content_length = limit
    else:
        return
    # A declared length over the cap is refused before a byte is read (werkzeug's parser stops the rest).
    if request.content_length is not None and request.content_length > (request.max_content_length or limit):
        raise _too_large(limit, variable, field)


def init_app(app: Flask) -> None:
    # App-level hooks run before the blueprints' own (authentication, CSRF).
    app.before_request(_body_cap)


def check_ledger(source: BinaryIO) -> tuple[LedgerPreview, ledger.Known]:
    """Read and check a ledger with the request's transaction ended first: the parse holds no lock."""
    vocabulary = ledger.known(db.session())
    db.pause()
    return ledger.check(source, vocabulary, db.settings().imports), vocabulary
