"""Bilingual labels: diagrams, forms and engine messages write "中文 English"; a page shows one."""

from __future__ import annotations

import re

# The Chinese part, then the first word that starts in ASCII: "审核验收 Review" -> ("审核验收", "Review").
_BILINGUAL = re.compile(r"^(?P<zh>.*?[^\x00-\x7f][^A-Za-z]*?)\s+(?P<en>[A-Za-z].*)$", re.DOTALL)


def pick(text: object, locale: str) -> str:
    """The part of a "中文 English" text for the locale; any other text as it is."""
    value = "" if text is None else str(text)
    match = _BILINGUAL.match(value)
    if match is None:
        return value
    return match["zh"].strip() if locale == "zh" else match["en"].strip()
