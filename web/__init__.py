"""Thin Flask layer over ``engine``: API blueprints, auth, error mapping, wiring."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask

from engine.audit import keys
from engine.bpmn import live
from engine.evidence import storage
from engine.items import notifications
from engine.store.config import Settings
from engine.store.db import configured_engine
from web import browser_session, db, oidc, problems, security, uploads
from web.api import init_api
from web.pages import init_pages


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; configuration is read here, from the environment or ``test_config``."""
    app = Flask(__name__)
    overrides = test_config or {}
    # A test overrides any setting by its field name in capitals (``DATABASE_URL``, ``MAIL``...).
    fields = {f.name for f in dataclasses.fields(Settings)}
    settings = dataclasses.replace(
        Settings.from_env(), **{key.lower(): value for key, value in overrides.items() if key.lower() in fields}
    )
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    live.pool.capacity = settings.live_workflows
    app.config.update(
        RECTIFLOW_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SECRET_KEY=settings.secret_key or browser_session.instance_secret(settings.instance_path),
    )
    security.init_app(app, settings)
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # No key, no app: history is never written unkeyed (``rectiflow init`` makes the instance's key).
    db.init_app(app, configured_engine(settings), keys.load(settings))
    # Notifications made in requests are e-mailed (by the worker) when SMTP is configured.
    notifications.enable_mail(app.extensions["rectiflow_sessions"], settings.mail)
    app.extensions["rectiflow_files"] = storage.open_store(settings.evidence, settings.instance_path)
    uploads.init_app(app)
    init_api(app)
    app.register_blueprint(browser_session.blp)
    if settings.oidc is not None:
        oidc.init_app(app, settings.oidc)
    init_pages(app)
    problems.init_app(app)
    return app
