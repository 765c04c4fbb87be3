"""Evidence files (佐证材料) of items: upload, list, download, remove."""

from __future__ import annotations

from typing import Any

from flask import Response

from engine.evidence import attachments
from engine.evidence.storage import FileStore, chunks
from engine.store.errors import NotFound
from engine.store.models import Attachment
from web import db
from web.api.attachment_schemas import (
    AttachmentFormSchema,
    AttachmentListSchema,
    AttachmentSchema,
    AttachmentUploadSchema,
)
from web.api.blueprint import Blueprint
from web.api.downloads import attachment as disposition
from web.auth import current_user
from web.uploads import evidence_body

blp = Blueprint("attachments", __name__, description="佐证材料 Evidence files of items")

REFUSED = {
    413: "the file is over RECTIFLOW_EVIDENCE_MAX_FILE_BYTES, or the item's files over their count or total "
    "(`errors` names `file`); nothing was stored",
    415: "not a kind of file accepted, judged by its content (`errors` names `file`); nothing was stored",
    422: "no file, an empty file or a name with nothing usable (`file`), a task that is not an open task of "
    "the item (`task_id`), or the item is closed (`item`)",
}


@blp.route("/items/<int:item_id>/attachments", methods=["POST"])
@evidence_body
@blp.arguments(AttachmentUploadSchema, location="files")
@blp.arguments(AttachmentFormSchema, location="form")
@blp.response(201, AttachmentSchema)
@blp.problems(403, 404, described=REFUSED)
def upload(files: dict[str, Any], form: dict[str, Any], item_id: int) -> tuple[Attachment, int, dict[str, str]]:
    """Add a file to an item you may see; auditors read files but add none."""
    given = files["file"]
    settings = db.settings().evidence
    with attachments.receive(given.stream, settings.max_file_bytes) as received:
        added = attachments.add(
            db.session(), current_user(), item_id, received, given.filename or "", form["task_id"], settings, db.files()
        )
    return added, 201, {"Location": f"/api/v1/attachments/{added.id}"}


@blp.route("/items/<int:item_id>/attachments", methods=["GET"])
@blp.response(200, AttachmentListSchema)
@blp.problems(404)
def list_attachments(item_id: int) -> dict[str, Any]:
    """The item's files, oldest first; removed ones are left out (the item's history keeps them)."""
    return {"attachments": attachments.listed(db.session(), current_user(), item_id)}


def _stream(store: FileStore, found: Attachment) -> Any:
    try:
        return store.open(found.sha256)
    except FileNotFoundError:
        raise NotFound(f"文件内容缺失 The stored bytes of file {found.id} are missing: run `audit verify`") from None


@blp.route("/attachments/<int:attachment_id>", methods=["GET"])
@blp.response(200, content_type="application/octet-stream", description="the file, with its original name")
@blp.problems(404)
def download(attachment_id: int) -> Response:
    """The file as uploaded, always as a download (never shown inline), of the type its content was found to be."""
    found = attachments.readable(db.session(), current_user(), attachment_id)
    # Streamed a chunk at a time and closed at the end, from a local file or an object store alike.
    response = Response(chunks(_stream(db.files(), found)), mimetype=found.media_type)
    response.headers["Content-Disposition"] = disposition(found.filename)
    response.headers["Content-Length"] = str(found.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["ETag"] = f'"{found.sha256}"'
    return response


@blp.route("/attachments/<int:attachment_id>", methods=["DELETE"])
@blp.response(200, AttachmentSchema, description="removed: gone from the list, kept in the history and on file")
@blp.problems(
    403,
    404,
    described={409: "its task is completed or the item is closed: evidence is kept as it was"},
)
def remove(attachment_id: int) -> Attachment:
    """Remove a file you uploaded, while the task it was uploaded for is open."""
    return attachments.remove(db.session(), current_user(), attachment_id)
