"""The REST API under ``/api/v1``: OpenAPI document, browsable docs (served offline), blueprints."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from web.api import audit, auth, extensions, health, items, notifications, people, processes, reports, tasks

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
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    blueprints = (
        *(module.blp for module in (health, items, tasks, processes, extensions, reports, notifications, audit)),
        auth.login_blp,
        auth.blp,
        people.users_blp,
        people.departments_blp,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint, url_prefix=f"{PREFIX}{blueprint.url_prefix or ''}")
    app.register_blueprint(_docs)
