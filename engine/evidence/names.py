"""A file's name as kept and offered back: its last part only, nothing that hides or reorders what it says.

The kept name ends with an extension that fits what the bytes are (``report.html`` that is text is kept
as ``report.html.txt``), so a downloaded file never opens as something else. A name starting with
``=`` stays as it is here: the spreadsheets that show names write every cell as text (``engine.store.xlsx``).
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 120
# Characters Windows refuses in names, and the separators of any system.
_RESERVED = re.compile(r'[<>:"/\\|?*]')
_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))})
# The extensions each kind may keep; the first is added when the name has none of them.
EXTENSIONS = {
    "application/pdf": ("pdf",),
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg", "jpe"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx", "wps"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx", "et"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx", "dps"),
    "application/vnd.oasis.opendocument.text": ("odt",),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods",),
    "application/vnd.oasis.opendocument.presentation": ("odp",),
    "application/msword": ("doc", "wps", "dot"),
    "application/vnd.ms-excel": ("xls", "et", "xlt"),
    "application/vnd.ms-powerpoint": ("ppt", "dps", "pps"),
    "text/plain; charset=utf-8": ("txt", "csv", "md", "log"),
    "text/plain; charset=gb18030": ("txt", "csv", "md", "log"),
}


def clean(given: str) -> str:
    """The name to keep for ``given`` (as the client sent it); empty when nothing usable is left."""
    name = unicodedata.normalize("NFC", given)
    # Control characters, and format characters: bidi overrides (``exe.pdf`` shown for ``fdp.exe``), zero widths.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    # The last part of any path, Windows' or POSIX's, and no drive letter.
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = _RESERVED.sub("_", name)
    name = " ".join(name.split())
    # No hidden file, no "..", no name Windows ends silently with a dot or a space.
    name = name.lstrip(". ").rstrip(". ")
    if name.split(".")[0].upper() in _DEVICES:
        name = f"_{name}"
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name) <= MAX_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        return name[:MAX_LENGTH].rstrip(". ")
    return f"{stem[: MAX_LENGTH - len(extension) - 1].rstrip('. ')}.{extension}"


def fitted(name: str, media_type: str) -> str:
    """``name`` with an extension its content's kind allows (one is added when it has none of them)."""
    allowed = EXTENSIONS[media_type]
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension in allowed:
        return name
    return _shorten(f"{name}.{allowed[0]}")
