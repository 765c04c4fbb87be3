"""反映 Intake pages: 我要反映 and 我的反映 (signed in), 待处理反映 (triage), and the public form with its receipt page.

The engine's rules are the API's (``engine.intake``); the public form answers 404 while it is closed.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from engine.identity import identity
from engine.intake import files, public, submissions, triage
from engine.intake.submissions import KIND_LABELS, STATUS_LABELS
from engine.items import sources
from engine.store.errors import InvalidInput, TooLarge, UnsupportedType
from web import db
from web.api.intake_schemas import AcceptSchema, DeclineSchema, MergeSchema, SubmissionCreateSchema
from web.api.submissions import public_status, raise_public, raise_signed_in
from web.pages.base import field_errors, me, once_form, once_url, require_login
from web.pages.errors import handle_on
from web.problems import status_of
from web.security import csrf
from web.uploads import intake_body

bp = Blueprint("intake", __name__, url_prefix="/submissions")
bp.before_request(require_login)
handle_on(bp)
# No login: the public form and the receipt page. Its forms carry a CSRF token all the same.
public_bp = Blueprint("public_intake", __name__, url_prefix="/intake")
handle_on(public_bp)
FIELDS = ("kind", "text", "source", "department", "contact")


def _labels() -> dict[str, Any]:
    """Each kind and outcome as a "中文 English" text, for the ``pick`` filter."""
    joined = {key: " ".join(label) for labels in (KIND_LABELS, STATUS_LABELS) for key, label in labels.items()}
    return {
        "kind_labels": {key: joined[key] for key in KIND_LABELS},
        "status_labels": {key: joined[key] for key in STATUS_LABELS},
    }


def _form_page(template: str, values: dict[str, Any], errors: list[dict[str, Any]], **more: Any) -> str:
    session = db.session()
    return render_template(
        template,
        values=values,
        errors=errors,
        sources=sources.active(session),
        departments=identity.departments(session),
        max_files=files.MAX_FILES,
        **_labels(),
        **more,
    )


def _sent() -> list[files.Upload]:
    """The files chosen in the form (a browser sends one empty part when none is)."""
    chosen = request.files.getlist("files")
    return [files.Upload(cast(BinaryIO, upload.stream), upload.filename or "") for upload in chosen if upload.filename]


def _posted() -> tuple[dict[str, Any], dict[str, Any]]:
    values = {key: request.form.get(key, "") for key in FIELDS}
    return values, {key: value for key, value in values.items() if value != ""}


@bp.get("/new")
@once_url
def new_form() -> str:
    return _form_page("intake_new.html", {"kind": "problem"}, [])


@bp.post("/new")
@intake_body
@once_form(_l("已提交，未重复提交"))
def create() -> Response | str | tuple[str, int]:
    values, body = _posted()
    try:
        raise_signed_in(me(), submissions.NewSubmission(**SubmissionCreateSchema().load(body)), _sent())
    except ValidationError as exc:
        return _form_page("intake_new.html", values, field_errors(exc))
    except InvalidInput as exc:
        db.session().rollback()
        return _form_page("intake_new.html", values, exc.errors)
    except (TooLarge, UnsupportedType) as exc:
        db.session().rollback()
        return _form_page("intake_new.html", values, exc.errors), status_of(exc)
    flash(_("已提交反映"))
    return redirect(url_for("intake.mine"))


@bp.get("/mine")
def mine() -> str:
    return render_template("intake_mine.html", submissions=submissions.mine(db.session(), me()), **_labels())


@bp.get("/queue")
def queue() -> str:
    status = request.args.get("status", "new")
    session = db.session()
    found = submissions.queue(session, me(), status if status in STATUS_LABELS else None)
    return render_template(
        "intake_queue.html",
        submissions=found,
        status=status,
        departments=identity.departments(session),
        first_line=submissions.first_line,
        **_labels(),
    )


def _triage(action: str, submission_id: int) -> Response:
    session, form, settings = db.session(), request.form, db.settings()
    body = {key: value for key, value in form.items() if value != "" and key not in ("csrf_token", "once_token")}
    try:
        if action == "accept":
            change = triage.Acceptance(**AcceptSchema().load(body))
            triage.accept(
                session, me(), submission_id, change, settings.timezone, settings.evidence, request.remote_addr
            )
        elif action == "merge":
            item = MergeSchema().load(body)["item"]
            triage.merge(session, me(), submission_id, item, settings.evidence, request.remote_addr)
        else:
            triage.decline(session, me(), submission_id, DeclineSchema().load(body)["reason"], request.remote_addr)
    except ValidationError as exc:
        messages = "；".join(f"{error['message']}" for error in field_errors(exc))
        raise InvalidInput(messages) from exc
    flash(_("已处理反映 #%(id)d", id=submission_id))
    return redirect(url_for("intake.queue"))


@bp.post("/<int:submission_id>/<any(accept, merge, decline):action>")
def act(submission_id: int, action: str) -> Response:
    submissions.get_for_triage(db.session(), me(), submission_id)
    return _triage(action, submission_id)


@public_bp.get("")
def public_form() -> str:
    public.require_enabled(db.session())
    return _form_page("intake_public.html", {"kind": "problem"}, [])


@public_bp.post("")
@intake_body
def public_create() -> str | tuple[str, int]:
    csrf.protect()
    public.require_enabled(db.session())
    values, body = _posted()
    try:
        row, receipt = raise_public(submissions.NewSubmission(**SubmissionCreateSchema().load(body)), _sent())
    except ValidationError as exc:
        return _form_page("intake_public.html", values, field_errors(exc)), 422
    except (InvalidInput, TooLarge, UnsupportedType) as exc:
        db.session().rollback()
        return _form_page("intake_public.html", values, exc.errors), status_of(exc)
    return render_template("intake_receipt.html", receipt=receipt, row=row, **_labels())


@public_bp.get("/status")
def status_lookup() -> Response | str:
    receipt = request.args.get("receipt", "").strip()
    if receipt:
        return redirect(url_for("public_intake.status", receipt=receipt))
    return render_template("intake_status.html", shown=None, **_labels())


@public_bp.get("/status/<receipt>")
def status(receipt: str) -> str:
    return render_template(
        "intake_status.html", shown=public_status(submissions.by_receipt(db.session(), receipt)), **_labels()
    )
