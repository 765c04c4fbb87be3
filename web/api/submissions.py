"""反映 Intake: raise (signed in, or the public form when open), triage, one's own, the public receipt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import limits
from flask import request
from marshmallow import Schema

from engine.identity import permissions
from engine.intake import files, public, submissions, triage
from engine.store.models import Submission, User
from web import db
from web.api.blueprint import Blueprint
from web.api.intake_schemas import (
    AcceptSchema,
    DeclineSchema,
    MergeSchema,
    PublicFormSchema,
    PublicStatusSchema,
    QueueQuerySchema,
    ReceiptSchema,
    SubmissionCreateSchema,
    SubmissionFilesSchema,
    SubmissionListSchema,
    SubmissionSchema,
    TriageListSchema,
    TriageSubmissionSchema,
)
from web.auth import check_first, current_user
from web.uploads import intake_body

blp = Blueprint("submissions", __name__, url_prefix="/submissions", description="反映 Intake: problems and suggestions")
public_blp = Blueprint(
    "public_submissions",
    __name__,
    url_prefix="/public/submissions",
    protected=False,
    description="公众反映 The public form (no login), when an administrator opens it",
)
F = TypeVar("F", bound=Callable[..., Any])


FILES_REFUSED = {
    413: "the body, or one file, is too large (`errors` names `body` or `file`); nothing was stored",
    415: "a file of a kind not accepted, judged by its content (`errors` names `file`); nothing was stored",
}


def uploads(given: dict[str, Any]) -> list[files.Upload]:
    return [files.Upload(upload.stream, upload.filename or "") for upload in given["files"]]


def raise_signed_in(user: User, new: submissions.NewSubmission, sent: list[files.Upload]) -> Submission:
    """A signed-in submission with its files, for the API and the page."""
    session = db.session()
    files.check_count(sent)
    row = submissions.raise_signed_in(session, user, new)
    files.attach(session, row, sent, db.settings().evidence, db.files())
    return row


@blp.route("", methods=["POST"])
@intake_body
@blp.arguments(SubmissionCreateSchema, location="json_or_form")
@blp.arguments(SubmissionFilesSchema, location="files")
@blp.response(201, SubmissionSchema)
@blp.problems(400, described=FILES_REFUSED)
def raise_submission(body: dict[str, Any], given: dict[str, Any]) -> tuple[Submission, int]:
    """Anyone signed in raises a problem or a suggestion (JSON, or multipart with `files`); they follow it under
    `GET /submissions/mine`."""
    return raise_signed_in(current_user(), submissions.NewSubmission(**body), uploads(given)), 201


def _queue_reader(user: User) -> None:
    permissions.require_triager(user)


@blp.route("", methods=["GET"])
@check_first(_queue_reader)
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, TriageListSchema)
@blp.problems(403)
def queue(query: dict[str, Any]) -> dict[str, Any]:
    """待处理反映: the office (reporters) sees every submission, a unit's managers those about their unit."""
    return {"submissions": submissions.queue(db.session(), current_user(), query["status"])}


@blp.route("/mine", methods=["GET"])
@blp.response(200, SubmissionListSchema)
@blp.problems()
def mine() -> dict[str, Any]:
    """我的反映: what I raised, its outcome, and the status of the item it became (not its history)."""
    return {"submissions": submissions.mine(db.session(), current_user())}


def _triager(user: User, submission_id: int) -> None:
    submissions.get_for_triage(db.session(), user, submission_id)


TRIAGE_PROBLEMS = {409: "Already triaged: a submission is triaged once"}
FILES_OVER_LIMITS = {
    413: "the submission's files would take the item over RECTIFLOW_EVIDENCE_MAX_FILES or _MAX_ITEM_BYTES "
    "(`errors` names `files`), or the body is too large; nothing changed"
}


def _triage(action: str, schema: type[Schema], described: dict[int, str] | None = None) -> Callable[[F], F]:
    """A triage view: ``POST /submissions/{id}/{action}`` by a triager of the submission, answering it triaged."""
    decorators = (
        blp.route(f"/<int:submission_id>/{action}", methods=["POST"]),
        check_first(_triager),
        blp.arguments(schema),
        blp.response(200, TriageSubmissionSchema),
        blp.problems(400, 403, 404, 413, described={**TRIAGE_PROBLEMS, **(described or {})}),
    )

    def decorate(view: F) -> F:
        for decorator in reversed(decorators):
            view = decorator(view)
        return view

    return decorate


@_triage("accept", AcceptSchema, FILES_OVER_LIMITS)
def accept(body: dict[str, Any], submission_id: int) -> Submission:
    """受理立项: a new item prefilled from the submission (a manager may raise it for their own unit only)."""
    settings = db.settings()
    change = triage.Acceptance(**body)
    return triage.accept(
        db.session(), current_user(), submission_id, change, settings.timezone, settings.evidence, request.remote_addr
    )


@_triage("merge", MergeSchema, FILES_OVER_LIMITS)
def merge(body: dict[str, Any], submission_id: int) -> Submission:
    """并入: the submission joins an open item; the item's history records it."""
    limits = db.settings().evidence
    return triage.merge(db.session(), current_user(), submission_id, body["item"], limits, request.remote_addr)


@_triage("decline", DeclineSchema)
def decline(body: dict[str, Any], submission_id: int) -> Submission:
    """不予采纳, with a reason the submitter reads."""
    return triage.decline(db.session(), current_user(), submission_id, body["reason"], request.remote_addr)


@blp.route("/public-form", methods=["GET"])
@blp.response(200, PublicFormSchema)
@blp.problems()
def public_form() -> dict[str, bool]:
    return {"enabled": public.enabled(db.session())}


def _admin(user: User) -> None:
    permissions.require_admin(user)


@blp.route("/public-form", methods=["PUT"])
@check_first(_admin)
@blp.arguments(PublicFormSchema)
@blp.response(200, PublicFormSchema)
@blp.problems(400, 403)
def set_public_form(body: dict[str, Any]) -> dict[str, bool]:
    """Open or close the public form (closed by default); in the admin log as `intake.public`."""
    return {"enabled": public.set_enabled(db.session(), current_user(), body["enabled"], request.remote_addr)}


def raise_public(new: submissions.NewSubmission, sent: list[files.Upload]) -> tuple[Submission, str]:
    """The public form's rules, for the API and the page: open, within the address's limit; with its files."""
    session = db.session()
    public.require_enabled(session)
    files.check_count(sent)
    limit = limits.parse(db.settings().intake_public_limit)
    hashed = public.address_hash(session, request.remote_addr or "-")
    public.check_rate(session, hashed, limit.amount, dt.timedelta(seconds=limit.get_expiry()))
    row, receipt = submissions.raise_public(session, new, hashed)
    files.attach(session, row, sent, db.settings().evidence, db.files())
    return row, receipt


@public_blp.route("", methods=["POST"])
@intake_body
@public_blp.arguments(SubmissionCreateSchema, location="json_or_form")
@public_blp.arguments(SubmissionFilesSchema, location="files")
@public_blp.response(201, ReceiptSchema)
@public_blp.problems(
    400,
    described={
        **FILES_REFUSED,
        404: "The public form is closed",
        429: "Too many submissions from this address: wait for `Retry-After` seconds",
    },
)
def raise_public_submission(body: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """No login: a submission through the public form (JSON, or multipart with `files`), and its receipt code to
    look up its outcome."""
    row, receipt = raise_public(submissions.NewSubmission(**body), uploads(given))
    return {"receipt": receipt, "kind": row.kind, "status": row.status}, 201


def public_status(row: Submission) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "status": row.status,
        "item_status": row.item.status if row.item else None,
        "item_status_label": row.item.status_label if row.item else None,
    }


@public_blp.route("/<receipt>", methods=["GET"])
@public_blp.response(200, PublicStatusSchema)
@public_blp.problems(404)
def status(receipt: str) -> dict[str, Any]:
    """A receipt's outcome: kind, outcome, and the status of the item it became; nothing else."""
    return public_status(submissions.by_receipt(db.session(), receipt))
