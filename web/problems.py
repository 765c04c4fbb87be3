"""Every error leaves as RFC 9457 problem details (``application/problem+json``), mapped here only."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from engine import errors
from web.auth import Unauthenticated

STATUS: dict[type[errors.RectiflowError], int] = {
    Unauthenticated: 401,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.InvalidInput: 422,
    errors.InvalidDiagram: 422,
    errors.TaskNotReady: 409,
    errors.StaleVersion: 412,
}

log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, problem_errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if problem_errors:
        body["errors"] = problem_errors
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def _webargs_errors(messages: Any) -> list[dict[str, Any]]:
    """Flatten webargs/marshmallow messages ``{"json": {"field": ["msg"]}}`` into named fields."""
    found: list[dict[str, Any]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            field = ".".join(path[1:]) if path and path[0] in {"json", "query", "files", "form"} else ".".join(path)
            found.extend({"field": field or "body", "message": message} for message in node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, str(index)])

    walk(messages, [])
    return found


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    detail = exc.description or ""
    if messages:
        detail = "请求数据无效 The request is not valid" if status == 422 else "请求格式错误 Malformed request"
    return problem(status, exc.name, detail, _webargs_errors(messages) if messages else None)


def _domain(exc: errors.RectiflowError) -> Response:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    response = problem(status, HTTP_STATUS_CODES[status], exc.detail, exc.errors)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rectiflow"'
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, HTTP_STATUS_CODES[500], "服务器内部错误 Internal server error")


def init_app(app: Flask) -> None:
    # Registered after flask-smorest's own handler, so these win.
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(errors.RectiflowError, _domain)
    app.register_error_handler(Exception, _unexpected)
