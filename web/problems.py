"""Every error leaves as RFC 9457 problem details (``application/problem+json``), mapped here only."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from engine.store import errors
from web import trail
from web.auth import Unauthenticated
from web.browser_session import NotLoggedIn
from web.oidc import LoginFailed, LoginRequestInvalid, ProviderUnavailable

STATUS: dict[type[errors.RectiflowError], int] = {
    Unauthenticated: 401,
    NotLoggedIn: 401,
    LoginRequestInvalid: 400,
    LoginFailed: 401,
    ProviderUnavailable: 502,
    errors.WrongCredentials: 401,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.InvalidInput: 422,
    errors.TooLarge: 413,
    errors.UnsupportedType: 415,
    errors.EvidenceLocked: 409,
    errors.AlreadyExists: 409,
    errors.InvalidDiagram: 422,
    errors.TaskNotReady: 409,
    errors.LockLost: 409,
    errors.IncidentResolved: 409,
    errors.AlreadyDecided: 409,
    errors.StaleVersion: 412,
    errors.MessageUncorrelated: 409,
    errors.StateTooLarge: 422,
    errors.TooManySubmissions: 429,
}

PROBLEM_JSON = "application/problem+json"
UNAVAILABLE = "数据库暂不可用，请稍后重试 The database is unavailable; try again"
RETRY_AFTER = "1"  # seconds: a restart or failover is usually over by then

log = logging.getLogger(__name__)

# Ids are INTEGER columns (32-bit on PostgreSQL): a larger id in a URL names nothing.
MAX_ID = 2**31 - 1


def problem(status: int, title: str, detail: str, problem_errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if problem_errors:
        body["errors"] = problem_errors
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def _webargs_errors(messages: Any) -> list[dict[str, Any]]:
    """Flatten webargs/marshmallow messages ``{"json": {"field": ["msg"]}}`` into named fields."""
    found: list[dict[str, Any]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list) and all(isinstance(m, str) for m in node):
            names = (
                path[1:] if path and path[0] in {"json", "json_or_form", "query", "files", "form", "headers"} else path
            )
            # marshmallow's "_schema" is the whole object (e.g. a JSON array sent instead of an object).
            field = ".".join(name for name in names if name != "_schema")
            found.extend({"field": field or "body", "message": message} for message in node)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, str(index)])

    walk(messages, [])
    return found


def database_down(exc: HTTPException) -> Exception | None:
    """The database error behind a 500 that Flask raised for an error outside the view: the commit in
    ``web.db`` failed because the database went away. Flask hands its handlers only the 500 then."""
    original = getattr(exc, "original_exception", None)
    return original if isinstance(original, (OperationalError, InterfaceError)) else None


def _http(exc: HTTPException) -> Response:
    down = database_down(exc)
    if down is not None:
        return _unavailable(down)
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    detail = exc.description or ""
    if messages:
        detail = "请求数据无效 The request is not valid" if status == 422 else "请求格式错误 Malformed request"
    response = problem(status, exc.name, detail, _webargs_errors(messages) if messages else None)
    # Keep the exception's own headers (``Allow`` on 405, ``WWW-Authenticate`` on 401), not its HTML type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def status_of(exc: errors.RectiflowError) -> int:
    """The HTTP status of a domain error (the pages answer with the same ones)."""
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def _domain(exc: errors.RectiflowError) -> Response:
    status = status_of(exc)
    if status == 403:
        trail.denied(exc.detail)
    if isinstance(exc, errors.UndeliveredMessage):
        actor = trail.caller()  # read before ``apart`` rolls the request back
        detail = {"name": exc.name, "variables": exc.variables, "reason": exc.detail}
        trail.record_apart("message.undelivered", exc.target, actor=actor, **detail)
    response = problem(status, HTTP_STATUS_CODES[status], exc.detail, exc.errors)
    if isinstance(exc, errors.TooManySubmissions):
        response.headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rectiflow"'
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, HTTP_STATUS_CODES[500], "服务器内部错误 Internal server error")


def _unavailable(exc: Exception) -> Response:
    """The database went away (restarted, failed over, a connection dropped) or stayed locked: 503, try again.

    The request's transaction is rolled back. Should the connection drop during the commit itself, the
    outcome is unknown to the server too: a creating POST or a completion sent again with the same
    ``Idempotency-Key`` gets the first answer if it was stored, and runs if it was not.
    """
    log.warning("database unavailable: %s", exc)
    response = problem(503, HTTP_STATUS_CODES[503], UNAVAILABLE)
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def _unstorable(value: Any) -> bool:
    if isinstance(value, int):
        return value > MAX_ID
    return isinstance(value, str) and "\x00" in value


def _reject_unknown_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A URL id beyond the id range (or a key with NUL) names nothing: 404, before the database refuses it (500)."""
    if values and any(_unstorable(value) for value in values.values()):
        raise NotFound()


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_reject_unknown_ids)
    # Registered after flask-smorest's own handler, so these win.
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(errors.RectiflowError, _domain)
    app.register_error_handler(OperationalError, _unavailable)
    app.register_error_handler(InterfaceError, _unavailable)
    app.register_error_handler(Exception, _unexpected)
