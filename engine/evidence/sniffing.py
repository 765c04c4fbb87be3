"""What a file is, from its bytes only (never its name): the kinds of evidence an office hands in.

PDF, PNG/JPEG/GIF/WebP, Office OOXML and OpenDocument (told apart by their zip's directory, never
by decompressing it: a zip bomb is judged by the sizes its directory declares), legacy Office and
WPS files (OLE compound files, told apart by their streams), and plain text (UTF-8 or GB18030).
Anything else is refused. No library was taken for this: ``filetype`` (last release 2022) guesses
OOXML from the first 8 KB and knows no text nor WPS; the signatures below are each one line.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

import olefile

PDF = "application/pdf"
TEXT_UTF8 = "text/plain; charset=utf-8"
TEXT_GB18030 = "text/plain; charset=gb18030"

_MAGIC = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# The part each OOXML document's package holds (ECMA-376), as Word, Excel, PowerPoint and WPS write it.
_OOXML = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ODF = frozenset(
    {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
# An OLE file's main stream says what it is; WPS's wps/et/dps carry the same streams as doc/xls/ppt.
# Other OLE files (an .msi installer, an Outlook .msg) have none of these and are refused.
_OLE_STREAMS = (
    ("WordDocument", "application/msword"),
    ("Workbook", "application/vnd.ms-excel"),
    ("Book", "application/vnd.ms-excel"),
    ("PowerPoint Document", "application/vnd.ms-powerpoint"),
)
# A document's parts declared larger than this many times the file: a zip bomb, refused unopened.
MAX_RATIO = 100
MAX_ENTRIES = 10_000
# Control characters plain text may not hold (tab, line feed, form feed and carriage return it may).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(path: Path) -> str | None:
    """The media type of the file at ``path``, or None when it is not a kind of evidence accepted."""
    with path.open("rb") as stream:
        head = stream.read(16)
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(_ZIP):
        return _document(path)
    if head.startswith(_OLE):
        return _legacy(path)
    return _text(path)


def _document(path: Path) -> str | None:
    """An OOXML or OpenDocument file, by its zip's central directory alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES or _bomb(entries, path.stat().st_size):
                return None
            names = {entry.filename: entry for entry in entries}
            if "[Content_Types].xml" in names:
                return next((kind for part, kind in _OOXML.items() if part in names), None)
            mimetype = names.get("mimetype")
            # ODF stores its ``mimetype`` first and uncompressed: reading it inflates nothing.
            if mimetype is None or mimetype.compress_type != zipfile.ZIP_STORED or mimetype.file_size > 100:
                return None
            declared = archive.read(mimetype).decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        return None
    return declared if declared in _ODF else None


def _bomb(entries: list[zipfile.ZipInfo], size: int) -> bool:
    declared = sum(entry.file_size for entry in entries)
    return declared > MAX_RATIO * max(size, 1024 * 1024)


def _legacy(path: Path) -> str | None:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            return next((kind for stream, kind in _OLE_STREAMS if ole.exists(stream)), None)
    except (OSError, ValueError, IndexError, TypeError):  # olefile's ways of saying "not an OLE file"
        return None


def _text(path: Path) -> str | None:
    """Plain text: no NUL nor other control characters, UTF-8 (a BOM allowed) or else GB18030 throughout."""
    for encoding, media_type in (("utf-8-sig", TEXT_UTF8), ("gb18030", TEXT_GB18030)):
        if _decodes(path, encoding):
            return media_type
    return None


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(64 * 1024), b""):
                if not _plain(decoder.decode(chunk)):
                    return False
            return _plain(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False


def _plain(text: str) -> bool:
    return _CONTROL.search(text) is None
