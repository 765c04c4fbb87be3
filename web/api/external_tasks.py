"""External service tasks: workers (role ``worker``) fetch and lock them, then complete or fail them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.identity import permissions
from engine.items import external
from engine.store.models import ExternalTask
from web import db
from web.api.blueprint import Blueprint
from web.api.external_schemas import (
    ExtendLockSchema,
    ExternalCompleteSchema,
    ExternalFailureSchema,
    ExternalTaskListSchema,
    ExternalTaskSchema,
    FetchAndLockSchema,
)
from web.auth import check_first, current_user

blp = Blueprint(
    "external_tasks",
    __name__,
    url_prefix="/external-tasks",
    description="外部任务 External service tasks, for workers (role worker)",
)
_WORKERS_ONLY = check_first(lambda user, **_ids: permissions.require_worker(user))
_LOCK = {
    403: "Not a worker",
    404: "No such external task",
    409: "The task is no longer waiting, or this worker_id holds no lock on it (expired, or fetched by another)",
}


def _ms(value: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=value)


@blp.route("/fetch-and-lock", methods=["POST"])
@_WORKERS_ONLY
@blp.arguments(FetchAndLockSchema)
@blp.response(200, ExternalTaskListSchema, description="The tasks now locked for this worker (maybe none)")
@blp.problems(400, 413, described={403: "Not a worker"})
def fetch_and_lock(body: dict[str, Any]) -> dict[str, Any]:
    """Lock up to `max_tasks` waiting tasks of the topics for `worker_id`, for `lock_ms`."""
    fetch = external.Fetch(body["worker_id"], tuple(body["topics"]), body["max_tasks"], _ms(body["lock_ms"]))
    return {"tasks": external.fetch_and_lock(db.session(), current_user(), fetch)}


@blp.route("/<int:task_id>/complete", methods=["POST"])
@_WORKERS_ONLY
@blp.arguments(ExternalCompleteSchema)
@blp.response(200, ExternalTaskSchema, description="Completed: the item's diagram went on")
@blp.problems(400, 413, described=_LOCK)
def complete(body: dict[str, Any], task_id: int) -> ExternalTask:
    return external.complete(db.session(), current_user(), task_id, body["worker_id"], body["variables"])


@blp.route("/<int:task_id>/failure", methods=["POST"])
@_WORKERS_ONLY
@blp.arguments(ExternalFailureSchema)
@blp.response(200, ExternalTaskSchema, description="Offered again later, or (no retries left) an incident")
@blp.problems(400, 413, described=_LOCK)
def failure(body: dict[str, Any], task_id: int) -> ExternalTask:
    failed = external.Failed(body["message"], body["retries"], _ms(body["retry_timeout_ms"]))
    return external.fail(db.session(), current_user(), task_id, body["worker_id"], failed)


@blp.route("/<int:task_id>/extend-lock", methods=["POST"])
@_WORKERS_ONLY
@blp.arguments(ExtendLockSchema)
@blp.response(200, ExternalTaskSchema, description="The lock lasts longer")
@blp.problems(400, 413, described=_LOCK)
def extend_lock(body: dict[str, Any], task_id: int) -> ExternalTask:
    return external.extend_lock(db.session(), current_user(), task_id, body["worker_id"], _ms(body["lock_ms"]))
