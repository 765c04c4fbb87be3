"""佐证材料 in the browser: the owner uploads a photo and a PDF with a progress bar and ticks them in the
rectify form; the approver judges them with their previews; refused files say why beside the control; only
the uploader removes a file, while the engine allows it."""

from __future__ import annotations

import json
import re
import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle
from engine.identity import identity
from engine.items import workflow
from engine.store.db import transaction
from tests.conftest import PROCESSES, RECTIFY_FORMS
from tests.engine.evidence import samples
from tests.web.pages.conftest import Site
from tests.web.pages.test_pages_review import act, open_task, submit

TITLE = "办事大厅无障碍通道破损"
LIMIT = 100_000  # RECTIFLOW_EVIDENCE_MAX_FILE_BYTES of these tests' server


@pytest.fixture
def site_env() -> dict[str, str]:
    return {"RECTIFLOW_EVIDENCE_MAX_FILE_BYTES": str(LIMIT)}


def png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a red and blue picture) that a browser draws: the preview must show it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + (b"\xcc\x22\x22" if y < height // 2 else b"\x22\x44\xcc") * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pdf() -> bytes:
    """A real one-page PDF (a viewer opens it), its cross-reference table counted as it is written."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    xref = b"xref\n0 %d\n0000000000 65535 f \n%s" % (len(objects) + 1, table)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(out))
    return out + xref + trailer


def file(name: str, content: bytes, mime: str = "application/octet-stream") -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": content}


def at_rectify(sessions: sessionmaker[Session]) -> int:
    """An office item whose owner is to rectify it now."""
    with transaction(sessions) as session:
        reporter = identity.user_by_username(session, "reporter")
        item = workflow.create_item(session, reporter, workflow.NewItem(title=TITLE, department="office"), "UTC")
        act(session, item, "manager", "define_measures", {"measures": "修复坡道，加装扶手"})
        act(session, item, "manager", "assign_owner", {"owner": "owner"})
        return item.id


def upload(page: Page, scope: str, payload: FilePayload) -> None:
    page.locator(f"{scope} [data-evidence-upload] input[type=file]").set_input_files(payload)


def ticked(page: Page) -> list[str]:
    boxes = page.locator("#f-evidence_files label.choice")
    return [box.locator("a").inner_text() for box in boxes.all() if box.locator("input").is_checked()]


def test_the_owner_uploads_and_ticks_evidence_and_the_approver_judges_it_with_previews(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = at_rectify(sessions)
    site.login("owner")
    open_task(site, TITLE)

    control = page.locator(".task-form [data-evidence-upload]")
    upload(page, ".task-form", file("现场照片.png", png(), "image/png"))
    expect(control.locator(".upload-status")).to_have_text("上传完成：现场照片.png")
    expect(control.locator("progress")).to_have_js_property("value", 100)
    upload(page, ".task-form", file("整改通知.pdf", pdf(), "application/pdf"))
    expect(control.locator(".upload-status")).to_have_text("上传完成：整改通知.pdf")
    expect(control.locator("progress")).to_have_js_property("value", 100)
    # Each file uploaded here is listed as a box of the field, ticked already.
    expect(page.locator("#f-evidence_files label.choice")).to_have_count(2)
    assert ticked(page) == ["现场照片.png", "整改通知.pdf"]
    page.fill("#f-result", "坡道已修复，扶手已安装")
    site.shot("evidence-rectify-form")
    submit(site)
    assert page.url.endswith("/inbox"), page.inner_text("main")

    # The item page lists both, the upload's step done: no remove button any more (the engine says so).
    site.visit(f"/items/{item_id}")
    files = page.locator("section.evidence .evidence-file")
    expect(files.locator("a.name")).to_have_text(["现场照片.png", "整改通知.pdf"])
    expect(files.first.locator(".uploader")).to_have_text("owner")
    expect(files.first.locator(".sha256")).to_have_text(re.compile(r"^[0-9a-f]{12}$"))
    expect(page.locator("section.evidence button.remove")).to_have_count(0)
    # The history says which file went up, by name and size, and the rectify answer names its files.
    expect(page.locator(".timeline .event-attachment_added .action").first).to_have_text(
        re.compile(r"上传了佐证材料“现场照片\.png”（\d+ B）")
    )
    completed = page.locator(".timeline .event-completed").last
    expect(completed.locator(".datum", has_text="佐证文件")).to_have_text(re.compile("现场照片.png、整改通知.pdf"))

    site.login("approver")
    open_task(site, TITLE)
    judged = page.locator("section.judged .judged-files .evidence-file")
    expect(judged.locator("a.name")).to_have_text(["现场照片.png", "整改通知.pdf"])
    image = judged.first.locator("img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 24, "the photo's preview is not drawn"
    expect(judged.nth(1).locator("iframe.pdf-preview")).to_have_attribute("src", re.compile(r"/files/\d+/preview$"))
    # Files are named, never shown as bare ids.
    assert not page.locator("section.judged dd").filter(has_text=re.compile(r"^\d+(、\d+)*$")).count()
    site.shot("evidence-review")


def test_a_refused_file_says_why_beside_the_control_and_nothing_is_listed(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    at_rectify(sessions)
    site.login("owner")
    open_task(site, TITLE)
    control = page.locator(".task-form [data-evidence-upload]")
    refusal = control.locator(".upload-refusal")

    refused = {
        "整改报告.pdf": samples.EXE,  # a program, renamed
        "全景.png": png() + b"\x00" * LIMIT,  # read to its limit, then refused
        "航拍.png": png() + b"\x00" * 3 * LIMIT,  # refused by its declared length, unread
    }
    for name, content in refused.items():
        with page.expect_response(re.compile(r"/items/\d+/files$")) as answer:
            upload(page, ".task-form", file(name, content))
        expected = "不支持的文件类型" if name.endswith(".pdf") else "文件过大"
        assert answer.value.status == (415 if name.endswith(".pdf") else 413)
        expect(refusal).to_have_text(re.compile(f"^{expected}"))
    expect(control.locator("progress")).to_be_hidden()
    expect(page.locator("#f-evidence_files label.choice")).to_have_count(0)

    # The browser logs each refused request; they were expected.
    expected = re.compile(r"status of (413|415) ")
    assert len([e for e in site.console_errors if expected.search(e)]) == 3
    site.console_errors[:] = [e for e in site.console_errors if not expected.search(e)]

    # A good file afterwards clears the message.
    upload(page, ".task-form", file("照片.png", png(), "image/png"))
    expect(control.locator(".upload-status")).to_have_text("上传完成：照片.png")
    expect(refusal).to_be_hidden()


def test_only_the_uploader_removes_a_file_and_a_direct_post_by_someone_else_changes_nothing(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = at_rectify(sessions)
    site.login("owner")
    site.visit(f"/items/{item_id}")
    expect(page.locator("section.evidence .empty")).to_have_text("暂无佐证材料")
    upload(page, "section.evidence", file("会议纪要.pdf", samples.PDF, "application/pdf"))
    row = page.locator("section.evidence .evidence-file")
    expect(row.locator("a.name")).to_have_text("会议纪要.pdf")
    expect(row.locator("button.remove")).to_have_count(1)
    file_id = row.get_attribute("data-file-id")

    site.login("manager")
    site.visit(f"/items/{item_id}")
    expect(row.locator("a.name")).to_have_text("会议纪要.pdf")
    expect(row.locator("button.remove")).to_have_count(0)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = page.request.post(f"/files/{file_id}/remove", form={"csrf_token": token}, max_redirects=0)
    assert refused.status in (403, 409)
    assert "只有上传人可以删除此文件" in refused.text()
    site.visit(f"/items/{item_id}")
    expect(row.locator("a.name")).to_have_text("会议纪要.pdf")

    site.login("owner")
    site.visit(f"/items/{item_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.remove").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("section.evidence .evidence-file")).to_have_count(0)
    expect(page.locator(".timeline .event-attachment_removed .action")).to_have_text(
        re.compile("删除了佐证材料“会议纪要.pdf”")
    )


def test_a_preview_is_inline_and_sandboxed_only_for_images_and_pdfs(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    page = site.page
    item_id = at_rectify(sessions)
    site.login("owner")
    site.visit(f"/items/{item_id}")
    sent = {"照片.png": png(), "通知.pdf": samples.PDF, "说明.html": b"<script>alert(1)</script>\n"}
    for name, content in sent.items():
        upload(page, "section.evidence", file(name, content))
        # The text file keeps a name that fits what it is.
        kept = "说明.html.txt" if name == "说明.html" else name
        expect(page.locator("section.evidence .upload-status")).to_have_text(f"上传完成：{kept}")
    ids = {
        row.locator("a.name").inner_text(): row.get_attribute("data-file-id")
        for row in page.locator("section.evidence .evidence-file").all()
    }
    assert list(ids) == ["照片.png", "通知.pdf", "说明.html.txt"]

    def headers(name: str) -> dict[str, Any]:
        response = page.request.get(f"/files/{ids[name]}/preview")
        assert response.ok
        assert response.body() == sent[name.removesuffix(".txt")]
        return response.headers

    for name, media_type in (("照片.png", "image/png"), ("通知.pdf", "application/pdf")):
        shown = headers(name)
        assert shown["content-type"] == media_type
        assert shown["content-disposition"].startswith("inline;")
        assert shown["content-security-policy"].split(";")[0] == "sandbox"
        assert shown["x-content-type-options"] == "nosniff"
    other = headers("说明.html.txt")
    assert other["content-type"].startswith("text/plain")
    assert other["content-disposition"].startswith("attachment;")
    assert other["x-content-type-options"] == "nosniff"
    # No preview is offered for it on the page either: a link that downloads.
    text_row = page.locator(f"section.evidence .evidence-file[data-file-id='{ids['说明.html.txt']}']")
    expect(text_row.locator("img, iframe")).to_have_count(0)
    assert page.request.get(f"/files/{ids['照片.png']}").headers["content-disposition"].startswith("attachment;")


def test_a_form_requiring_files_refuses_without_one_beside_the_field(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    form = json.loads(RECTIFY_FORMS["rectify.json"])
    form["properties"]["evidence_files"]["minItems"] = 1
    form["required"].append("evidence_files")
    forms = {**RECTIFY_FORMS, "rectify.json": json.dumps(form).encode()}
    with transaction(sessions) as session:
        deploy.deploy(session, Bundle((PROCESSES / "rectification_item.bpmn").read_bytes(), forms), "designer")
    at_rectify(sessions)
    page = site.page
    site.login("owner")
    open_task(site, TITLE)
    page.fill("#f-result", "已修复")
    submit(site)
    field = page.locator(".field.invalid", has=page.locator("#f-evidence_files"))
    expect(field.locator(".error")).to_have_text(re.compile("“佐证文件”至少选择 1 项"))

    upload(page, ".task-form", file("照片.png", png(), "image/png"))
    expect(page.locator(".task-form .upload-status")).to_have_text("上传完成：照片.png")
    submit(site)
    assert page.url.endswith("/inbox"), page.inner_text("main")
