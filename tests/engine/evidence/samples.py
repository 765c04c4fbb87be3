"""Small files of each kind, made here: the evidence tests' samples."""

from __future__ import annotations

import io
import struct
import zipfile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 14
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50

_END, _FREE, _FAT, _NONE = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def odt() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")  # stored
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def declared_bomb() -> bytes:
    """A docx whose directory declares a 4 GB part: refused by the directory alone, nothing inflated."""
    data = bytearray(docx())
    central = data.rindex(b"PK\x01\x02word/document.xml"[:4])
    # The central directory entry's uncompressed size (offset 24 in the entry).
    struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)
    return bytes(data)


def ole(stream: str) -> bytes:
    """A compound file (the container of doc/xls/ppt and WPS's wps/et/dps) holding one empty ``stream``."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, _END, 0, _END, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", _FREE) * 108
    fat = struct.pack("<II", _FAT, _END) + struct.pack("<I", _FREE) * 126

    def entry(name: str, kind: int, child: int = _NONE) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le") if name else b""
        return (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBBIII", len(encoded), kind, 1, _NONE, _NONE, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", _END if kind else 0, 0)
        )

    directory = entry("Root Entry", 5, 1) + entry(stream, 2) + entry("", 0) + entry("", 0)
    return header + fat + directory
