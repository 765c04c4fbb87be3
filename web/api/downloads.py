"""File downloads: the workbook media type and a Content-Disposition any browser names correctly."""

from __future__ import annotations

from urllib.parse import quote

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(filename: str, fallback: str | None = None) -> str:
    """An ASCII fallback name (given, or the name with other letters as ``_``) and the real one per RFC 6266."""
    plain = fallback or filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"
