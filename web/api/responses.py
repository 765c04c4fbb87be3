"""The error answers a view documents in OpenAPI, all problem+json (``ProblemSchema``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Blueprint

from web.api.schemas import ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])

MEANING = {
    400: "Malformed request body",
    401: "No valid bearer token",
    403: "The caller may not do this (the refusal is in the admin log)",
    404: "No such resource",
    409: "It already exists",
    422: "Invalid data; `errors` names each field at fault",
    429: "Too many failed logins: wait for `Retry-After` seconds",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": '`Bearer realm="rectiflow"`', "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until a login may be tried again", "schema": {"type": "integer"}}},
}


def problems(blp: Blueprint, *statuses: int, **meanings: str) -> Callable[[F], F]:
    """Document ``statuses`` as problem+json answers; ``meanings`` (``e401=...``) override the wording."""

    def decorate(view: F) -> F:
        for status in statuses:
            description = meanings.get(f"e{status}", MEANING[status])
            view = blp.alt_response(
                status,
                schema=ProblemSchema,
                content_type="application/problem+json",
                description=description,
                headers=HEADERS.get(status),
            )(view)
        return view

    return decorate
