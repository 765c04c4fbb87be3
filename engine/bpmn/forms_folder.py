"""The forms of a folder of diagrams (``processes/forms``) as a diagram is read with them: form key → content."""

from __future__ import annotations

from pathlib import Path


def read_forms(folder: Path) -> dict[str, bytes]:
    """Each JSON file under ``folder`` by its path relative to it; a link that leads outside is left out."""
    root = folder.resolve()
    if not root.is_dir():
        return {}
    forms: dict[str, bytes] = {}
    for path in sorted(root.rglob("*.json")):
        real = path.resolve()
        if root in real.parents and real.is_file():
            forms[path.relative_to(root).as_posix()] = real.read_bytes()
    return forms
