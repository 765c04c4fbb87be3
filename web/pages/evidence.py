"""佐证材料 on the pages: an item's files listed with previews, uploaded with a progress bar, removed by their uploader.

The engine (``engine.evidence.attachments``) decides who adds and removes what, and which files are
accepted; these routes only speak HTTP. A file is shown inline only when its sniffed type is an image or a
PDF, and then in a sandbox (``Content-Security-Policy: sandbox``): nothing it holds runs as this site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, get_template_attribute, jsonify, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from engine.evidence import attachments
from engine.evidence.sniffing import PDF
from engine.evidence.storage import chunks
from engine.items import workflow
from engine.store.errors import NotFound, RectiflowError
from engine.store.models import Attachment, Item, User
from web import db
from web.api.downloads import attachment as as_attachment
from web.pages import text
from web.pages.base import local_path, me, require_login
from web.pages.errors import handle_on
from web.problems import status_of
from web.uploads import evidence_body

IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Shown inside a page: the kinds a browser draws itself and runs no script of (in a sandbox anyway).
INLINE = IMAGES | {PDF}
# An inline file is a document of its own: no script, no plugin but the PDF viewer, no same origin; the
# item page may frame it (a PDF preview), nothing else may.
FILE_POLICY = "sandbox; frame-ancestors 'self'"

bp = Blueprint("evidence", __name__)
bp.before_request(require_login)
handle_on(bp)

# The upload answers a script (``static/evidence.js``) in JSON, its refusals too: a message beside the control.
upload_bp = Blueprint("evidence_upload", __name__)
upload_bp.before_request(require_login)


@dataclass(frozen=True)
class Shown:
    """A file as a page lists it: its preview kind ("image", "pdf" or "") and whether this person may remove it."""

    file: Attachment
    preview: str
    removable: bool


def _preview(media_type: str) -> str:
    return "image" if media_type in IMAGES else "pdf" if media_type == PDF else ""


def _may(check: Any) -> bool:
    try:
        check()
    except RectiflowError:
        return False
    return True


def shown(session: Session, user: User, item: Item, files: Iterable[Attachment]) -> list[Shown]:
    """``files`` of ``item`` with their previews, and the remove button where the engine would remove them."""
    return [
        Shown(
            found,
            _preview(found.media_type),
            found.removed_at is None and _may(partial(attachments.require_removable, session, user, found, item)),
        )
        for found in files
    ]


def read_only(files: Iterable[Attachment]) -> list[Shown]:
    """Files shown to judge (a review): with their previews, never a remove button."""
    return [Shown(found, _preview(found.media_type), False) for found in files]


def listed(session: Session, user: User, item: Item) -> list[Shown]:
    """The item's live files, as its page and a task's form list them."""
    return shown(session, user, item, attachments.listed(session, user, item.id))


def may_add(user: User, item: Item) -> bool:
    """Whether the upload control is offered: the engine's own check, asked without acting."""
    return _may(partial(attachments.require_addable, user, item))


def send(found: Attachment, inline: bool) -> Response:
    try:
        stream = db.files().open(found.sha256)
    except FileNotFoundError:
        raise NotFound(f"文件内容缺失 The stored bytes of file {found.id} are missing: run `audit verify`") from None
    response = Response(chunks(stream), mimetype=found.media_type)
    disposition = as_attachment(found.filename)
    response.headers["Content-Disposition"] = disposition.replace("attachment", "inline", 1) if inline else disposition
    response.headers["Content-Length"] = str(found.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    # The PDF preview is framed by the item's own page (the site's default refuses any frame).
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["ETag"] = f'"{found.sha256}"'
    return response


@bp.get("/files/<int:attachment_id>")
def download(attachment_id: int) -> Response:
    """The file as uploaded, always as a download."""
    return send(attachments.readable(db.session(), me(), attachment_id), inline=False)


@bp.get("/files/<int:attachment_id>/preview")
def preview(attachment_id: int) -> Response:
    """An image or a PDF shown in the page (sandboxed); any other kind downloads, as from ``download``."""
    found = attachments.readable(db.session(), me(), attachment_id)
    return send(found, inline=found.media_type in INLINE)


@bp.post("/files/<int:attachment_id>/remove")
def remove(attachment_id: int) -> WerkzeugResponse:
    """The uploader removes a file while the engine allows it (a refusal is the error page: 403 or 409)."""
    found = attachments.remove(db.session(), me(), attachment_id)
    return redirect(local_path(request.form.get("next"), url_for("item.show", item_id=found.item_id)))


@upload_bp.post("/items/<int:item_id>/files")
@evidence_body  # the body cap is the engine's file limit, set before the CSRF check reads the form
def upload(item_id: int) -> tuple[Response, int]:
    """One file for the item (for one of its open tasks with ``task_id``): its list entries as HTML, to insert."""
    session = db.session()
    given = request.files.get("file")
    if given is None:
        return _refusal(_("请选择文件"), 422)
    task_id = request.form.get("task_id", "")
    settings = db.settings().evidence
    with attachments.receive(cast(BinaryIO, given.stream), settings.max_file_bytes) as received:
        added = attachments.add(
            session,
            me(),
            item_id,
            received,
            given.filename or "",
            int(task_id) if task_id.isdigit() else None,
            settings,
            db.files(),
        )
    item = session.get_one(Item, item_id)
    entry = shown(session, me(), item, [added])[0]
    body = {
        "id": added.id,
        "name": added.filename,
        # The upload moved the item's version by one, under its lock: a task form drawn at the version before
        # takes the new one, so the person's own upload is not taken for someone else's change.
        "etag": {"from": f'"{item.id}-{item.version - 1}"', "to": workflow.etag(item)},
        # The item page's row and the task form's ticked box, drawn by the same macros as the page.
        "row": get_template_attribute("_evidence.html", "row")(entry, request.form.get("next", "")),
        "choice": get_template_attribute("_evidence.html", "choice")(
            request.form.get("field", ""), entry, [str(added.id)]
        ),
    }
    return jsonify(body), 201


def _refusal(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"message": message}), status


@upload_bp.errorhandler(RectiflowError)
def _refused(error: RectiflowError) -> tuple[Response, int]:
    """The engine's "中文 English" message, in the page's language."""
    return _refusal(text.pick(error.detail, str(get_locale())), status_of(error))


@upload_bp.errorhandler(HTTPException)
def _failed(error: HTTPException) -> tuple[Response, int]:
    # A stale CSRF token (the page open for hours) or the like: the page needs loading again.
    return _refusal(_("上传失败，请刷新页面后重试"), error.code or 400)
