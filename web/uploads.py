"""Upload routes that read a workbook: their own body cap, and their parse with no transaction open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from flask import Flask, request

from engine.ledger import ledger
from engine.ledger.ledger_import import LedgerPreview
from engine.store.errors import TooLarge
from web import db

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "rectiflow_workbook_body"
_INTAKE = "rectiflow_intake_body"


def workbook_body(view: F) -> F:
    """Mark a route whose request body may be as large as ``RECTIFLOW_IMPORT_MAX_BYTES``."""
    setattr(view, _MARK, True)
    return view


def intake_body(view: F) -> F:
    """Mark a public form's route: its body may be no larger than ``RECTIFLOW_INTAKE_MAX_BYTES``."""
    setattr(view, _INTAKE, True)
    return view


def _too_large(limit: int) -> TooLarge:
    message = f"文件过大 Too large: the upload is over {limit:,} bytes (RECTIFLOW_IMPORT_MAX_BYTES)"
    return TooLarge(message, errors=[{"field": "file", "message": message}])


def _body_cap() -> None:
    """Set before any hook reads the body (the pages' CSRF check reads the form)."""
    if db.route_marked(_INTAKE):
        limit = db.settings().intake_max_bytes
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            message = f"内容过长 Too large: over {limit:,} bytes (RECTIFLOW_INTAKE_MAX_BYTES)"
            raise TooLarge(message, errors=[{"field": "body", "message": message}])
    if not db.route_marked(_MARK):
        return
    limit = db.settings().imports.max_bytes
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)


def init_app(app: Flask) -> None:
    # App-level hooks run before the blueprints' own (authentication, CSRF).
    app.before_request(_body_cap)


def check_ledger(source: BinaryIO) -> tuple[LedgerPreview, ledger.Known]:
    """Read and check a ledger with the request's transaction ended first: the parse holds no lock."""
    vocabulary = ledger.known(db.session())
    db.pause()
    return ledger.check(source, vocabulary, db.settings().imports), vocabulary
