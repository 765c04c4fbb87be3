"""The REST API under ``/api/v1``: OpenAPI document, browsable docs (served offline), blueprints."""

from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response

from web.api import audit, extensions, health, incidents, items, notifications, processes, reports, tasks

PREFIX = "/api/v1"
DOCS_ASSETS = f"{PREFIX}/docs/assets/"

_assets = Blueprint("swagger_assets", __name__)


@_assets.get(f"{DOCS_ASSETS}<path:filename>")
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
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        API_SPEC_OPTIONS={
            "info": {"description": "整改事项 Rectification items driven by BPMN."},
            "security": [{"bearerAuth": []}],
        },
    )
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    blueprints = (health, items, tasks, processes, extensions, reports, notifications, audit, incidents)
    for blueprint in (module.blp for module in blueprints):
        api.register_blueprint(blueprint, url_prefix=f"{PREFIX}{blueprint.url_prefix or ''}")
    app.register_blueprint(_assets)
