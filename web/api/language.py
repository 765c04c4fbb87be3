"""The language of an API answer's words (a workbook's labels, a notification's text)."""

from __future__ import annotations

from flask import request

from engine.store.text import LANGUAGES


def requested_language() -> str | None:
    """The language ``Accept-Language`` prefers among ours, or None (both, Chinese first) when it names neither.

    Not the pages' locale: an API client sends a bearer token, not the browser session holding a person's choice.
    """
    return request.accept_languages.best_match(LANGUAGES)
