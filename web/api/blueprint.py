"""The API's blueprint: flask-smorest's, plus one way to document the problem+json errors a view answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar, cast

import flask_smorest

from web import once
from web.api.schemas import IdempotencyKeySchema, ProblemSchema
from web.auth import authenticate
from web.problems import PROBLEM_JSON

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """A blueprint of ``/api/v1``; a ``protected`` one needs a bearer token on every request."""

    # A body read as JSON or as a form (a submission with files is multipart): documented as its JSON.
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "json_or_form": "application/json",
    }

    def __init__(self, *args: Any, protected: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protected = protected
        if protected:
            self.before_request(authenticate)

    def problems(self, *statuses: int, described: Mapping[int, str] | None = None) -> Callable[[F], F]:
        """Document the errors a view answers, each a problem+json (``web.problems``).

        ``described`` gives a status its own description. A protected blueprint's views all answer
        401 without a valid token: that one is added here. ``@blp.arguments`` documents its own 422.
        The contract test (``tests/web/test_api_contract.py``) fails on any status not listed.
        """
        shared = {*statuses, *((HTTPStatus.UNAUTHORIZED,) if self.protected else ())} - set(described or {})

        def decorator(view: F) -> F:
            for status in sorted(shared):
                view = self.alt_response(status, HTTPStatus(status).name)(view)
            for status, description in (described or {}).items():
                problem = {"schema": ProblemSchema, "content_type": PROBLEM_JSON, "description": description}
                view = self.alt_response(status, **problem)(view)
            return view

        return decorator

    def idempotent(self) -> Callable[[F], F]:
        """A creating POST that honours an ``Idempotency-Key`` header (``web.once``); goes above ``@response``.

        The header is documented and checked with the view's other arguments (422 naming it).
        """

        def decorator(view: F) -> F:
            return cast(F, self.arguments(IdempotencyKeySchema, location="headers", as_kwargs=True)(once.api(view)))

        return decorator
