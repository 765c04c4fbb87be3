"""What a file is comes from its bytes: each accepted kind, and what is refused, whatever its name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from engine.evidence import sniffing
from tests.engine.evidence import samples


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (samples.PDF, "application/pdf"),
        (samples.PNG, "image/png"),
        (samples.JPEG, "image/jpeg"),
        (b"GIF89a" + bytes(20), "image/gif"),
        (samples.WEBP, "image/webp"),
        (samples.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (samples.odt(), "application/vnd.oasis.opendocument.text"),
        (samples.ole("WordDocument"), "application/msword"),
        (samples.ole("Workbook"), "application/vnd.ms-excel"),
        (samples.ole("PowerPoint Document"), "application/vnd.ms-powerpoint"),
        ("整改情况说明\r\n第一条".encode(), sniffing.TEXT_UTF8),
        ("整改情况说明\r\n第一条".encode("gb18030"), sniffing.TEXT_GB18030),
    ],
)
def test_each_kind_of_evidence_is_known_by_its_content(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    assert sniffing.sniff(path) == expected


@pytest.mark.parametrize(
    "content",
    [
        samples.EXE,
        samples.ole("\x05SummaryInformation"),  # an OLE file with no document stream (an .msi installer's kind)
        b"<svg xmlns='http://www.w3.org/2000/svg'>\x00</svg>",
        b"\x7fELF\x02\x01\x01" + bytes(40),
        samples.docx()[:-30],  # a truncated zip
    ],
)
def test_other_content_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    assert sniffing.sniff(path) is None


def test_a_zip_bomb_is_refused_by_its_directory_without_inflating_it(tmp_path: Path) -> None:
    """By construction nothing is decompressed: the declared sizes decide (the part says 4 GB, the file 1 KB)."""
    declared = tmp_path / "declared.docx"
    declared.write_bytes(samples.declared_bomb())
    assert sniffing.sniff(declared) is None

    real = io.BytesIO()
    with zipfile.ZipFile(real, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", bytes(200 * 1024 * 1024))
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(real.getvalue())
    assert bomb.stat().st_size < 1024 * 1024
    assert sniffing.sniff(bomb) is None


def test_a_document_with_compressed_pictures_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "photos.docx"
    path.write_bytes(samples.docx({"word/media/image1.png": samples.PNG * 1000}))
    assert sniffing.sniff(path) == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
