"""No duplicates by accident: a form's one-time token and the API's ``Idempotency-Key`` header.

Both keep what a creating request answered with its key (``engine.store.idempotency``), in the
request's own transaction; the same key again gets that answer and creates nothing.

- A page form (``web.pages.base``): ``{{ once_token() }}`` inside it, ``@once_url`` on the view that
  shows it (the token rides in the page's URL, so the back button brings the same one back) and
  ``@once_form(_l("..."))`` on the view it posts to. Posting it again (back button, double click, a
  retry) redirects where the first post did, with that message. The token is the form's, whatever
  was typed: a form shown once is submitted once.
- An API view: ``@blp.idempotent()`` (``web.api.blueprint``). The same key with the same request
  (method, path, query, body) gets the first response again, marked ``Idempotent-Replayed: true``;
  with a different request: 422.

Only success is kept (a page's redirect, an API status below 400): a request refused or a form sent
back with errors records nothing, so it may be sent again, corrected, with the same key.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import make_response, request
from werkzeug.wrappers import Response

from engine.store import idempotency
from engine.store.idempotency import Asked
from engine.store.models import utcnow
from web import db
from web.auth import current_user

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# What a repeat gets again besides status and body.
KEPT_HEADERS = ("Location", "ETag", "Content-Type")


def api(view: F) -> F:
    """An API view given the header's value as ``idempotency_key`` (see ``Blueprint.idempotent``)."""

    @functools.wraps(view)
    def wrapper(*args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Response:
        asked = Asked(current_user().id, idempotency_key, _request_digest()) if idempotency_key else None
        try:
            return once(asked, lambda: make_response(view(*args, **kwargs)), _succeeded, _replayed)
        except idempotency.KeyReused as exc:
            raise idempotency.KeyReused(errors=[{"field": HEADER, "message": exc.detail}]) from None

    return cast(F, wrapper)


def once(
    asked: Asked | None,
    run: Callable[[], Response],
    keeps: Callable[[Response], bool],
    replay: Callable[[dict[str, Any]], Response],
) -> Response:
    """``run`` the request unless ``asked`` was answered before (then ``replay`` that); keep what ``keeps`` says."""
    if asked is None:
        return run()
    session, now = db.session(), utcnow()
    retention = dt.timedelta(hours=db.settings().idempotency_hours)
    first = idempotency.earlier(session, asked, now, retention)
    if first is not None:
        return replay(first)
    try:
        response = run()
    except Exception:
        # A twin may have done it first and made this one fail, however it fails (the task is no longer
        # ready, a unique code is taken): then the twin's answer is this one's too.
        session.rollback()
        first = idempotency.earlier(session, asked, utcnow(), retention)
        if first is None:
            raise
        return replay(first)
    if keeps(response):
        try:
            idempotency.record(session, asked, _outcome(response), now, retention)
        except idempotency.Raced as raced:
            session.rollback()  # a twin got there first: its work stands, this one's goes
            return replay(raced.outcome)
    return response


def _succeeded(response: Response) -> bool:
    return response.status_code < 400


def _outcome(response: Response) -> dict[str, Any]:
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return {"status": response.status_code, "headers": headers, "body": response.get_data(as_text=True)}


def _replayed(outcome: dict[str, Any]) -> Response:
    response = Response(outcome["body"], status=outcome["status"], headers=outcome["headers"])
    response.headers[REPLAYED] = "true"
    return response


def _request_digest() -> str:
    """What an API request asks: method, path, query and body (JSON by its content, uploads by their bytes)."""
    parts: list[Any] = [request.method, request.path, sorted(request.args.items(multi=True))]
    if request.is_json:
        parts.append(request.get_json(silent=True))
    else:
        parts.append(sorted(request.form.items(multi=True)))
        # By name then file name: several parts may share a name (a bundle's forms).
        for name, upload in sorted(request.files.items(multi=True), key=lambda part: (part[0], part[1].filename or "")):
            parts.append([name, upload.filename, hashlib.sha256(upload.stream.read()).hexdigest()])
            upload.stream.seek(0)  # the view reads it next
    return digest(parts)


def digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
