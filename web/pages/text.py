"""Bilingual labels: diagrams, forms and engine messages write "中文 English"; a page shows one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask_babel import get_locale

from engine.store.text import bilingual
from web import db


def pick(text: object, locale: str) -> str:
    """The part of a "中文 English" text for the locale; any other text as it is."""
    zh, en = bilingual("" if text is None else str(text))
    return zh if locale == "zh" else en


def day(value: dt.date | dt.datetime | None) -> str:
    """2026年11月25日 in Chinese, 2026-11-25 in English."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(ZoneInfo(db.settings().timezone)).date()
    return f"{value.year}年{value.month}月{value.day}日" if str(get_locale()) == "zh" else value.isoformat()


def moment(value: dt.datetime | None) -> str:
    """A point in time on the office's clock, with the date as ``day`` writes it."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(db.settings().timezone))
    return f"{day(local.date())} {local:%H:%M}"


def size(value: int) -> str:
    """A file's size as people read it: 834 B, 12.5 KB, 3.2 MB (units of 1024, as file managers count)."""
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / (1024 * 1024):.1f} MB"
