"""The REST API under ``/api/v1``: OpenAPI document, browsable docs (served offline), blueprints."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from web.api import (
    attachments,
    audit,
    auth,
    decisions,
    extensions,
    external_tasks,
    health,
    incidents,
    items,
    measures,
    messages,
    migrations,
    notifications,
    people,
    processes,
    reports,
    sources,
    submissions,
    tasks,
    webhooks,
)
from web.api.schemas import ProblemSchema
from web.problems import PROBLEM_JSON

PREFIX = "/api/v1"
DOCS_PAGE = Path(__file__).parent / "docs"

# Our own docs page instead of flask-smorest's, whose template has an inline script that the
# Content-Security-Policy refuses: the page loads Swagger UI and a small initialiser, all as files.
_docs = Blueprint("docs", __name__)


@_docs.get(f"{PREFIX}/docs")
def _docs_page() -> Response:
    return Response((DOCS_PAGE / "index.html").read_bytes(), mimetype="text/html")


@_docs.get(f"{PREFIX}/docs/rectiflow-docs.js")
def _docs_script() -> Response:
    return send_from_directory(DOCS_PAGE, "rectiflow-docs.js")


@_docs.get(f"{PREFIX}/docs/assets/<path:filename>")
def _swagger_asset(filename: str) -> Response:
    # Swagger UI from the swagger-ui-bundle package: the docs page loads nothing from the internet.
    return send_from_directory(swagger_ui_path, filename)


MEANING = {
    400: "Malformed request body",
    401: "No valid bearer token",
    403: "The caller may not do this (the refusal is in the admin log)",
    404: "No such resource",
    409: "Conflict with the current state",
    422: "Invalid data; `errors` names each field or BPMN element at fault",
    429: "Too many failed logins, or public submissions: wait for `Retry-After` seconds",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": '`Bearer realm="rectiflow"`', "schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "seconds until a login (or a public submission) may be tried again",
            "schema": {"type": "integer"},
        }
    },
}


class _Api(Api):
    """flask-smorest's Api, documenting errors as they leave (``web.problems``): problem+json."""

    ERROR_SCHEMA = ProblemSchema
    # No catch-all "default" answer: each view lists the errors it gives (``Blueprint.problems``).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        # flask-smorest registers one shared response per error status (``@arguments`` refers to
        # UNPROCESSABLE_ENTITY) with its JSON content type; ours are problem+json.
        for status in HTTPStatus:
            if status >= HTTPStatus.BAD_REQUEST:
                response = {
                    "description": MEANING.get(status, status.phrase),
                    "content": {PROBLEM_JSON: {"schema": self.ERROR_SCHEMA}},
                    **({"headers": HEADERS[status]} if status in HEADERS else {}),
                }
                self.spec.components.response(status.name, response, lazy=True)


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="Rectiflow",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "整改事项 Rectification items driven by BPMN."},
            "security": [{"bearerAuth": []}],
        },
    )
    api = _Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    blueprints = (
        *(
            module.blp
            for module in (
                health,
                items,
                tasks,
                processes,
                decisions,
                migrations,
                extensions,
                reports,
                notifications,
                audit,
                incidents,
                sources,
                submissions,
                measures,
                messages,
                external_tasks,
                webhooks,
                attachments,
            )
        ),
        submissions.public_blp,
        measures.item_blp,
        auth.login_blp,
        auth.blp,
        people.users_blp,
        people.departments_blp,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=f"{PREFIX}{blueprint.url_prefix or ''}")
    app.register_blueprint(_docs)
