"""Text both databases can store (the one rule, used by the API's fields and by task forms), and the two languages
the engine writes labels in."""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")
Label = tuple[str, str]  # (Chinese, English)
LANGUAGES = ("zh", "en")
# Control characters XML 1.0, and so an .xlsx cell, cannot hold (tab, newline and carriage return it can).
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

NUL = "不能包含 NUL 字符 Must not contain NUL characters"
SURROGATE = "不是有效的 Unicode 文本 Not valid Unicode text (lone surrogate)"


def _ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def bilingual(text: str) -> tuple[str, str]:
    """The Chinese and the English part of a "中文 English" text (diagrams, forms, engine messages); else it twice.

    The English part starts at the first word in ASCII letters after a Chinese character with no such word
    between them; the Chinese part may end with a quoted id ("没有元素 'x' No element 'x'"). One pass over
    the text: a regular expression for this backtracks quadratically on long hostile text.
    """
    chinese = quoted = False  # a Chinese character seen, and no English word since; inside '…'
    at = 0
    while at < len(text):
        char = text[at]
        if quoted:
            quoted = char != "'"
        elif char.isspace() and chinese:
            end = at
            while end < len(text) and text[end].isspace():
                end += 1
            if end < len(text) and _ascii_letter(text[end]):
                return text[:at].strip(), text[end:].strip()
            at = end
            continue
        elif not char.isascii():
            chinese = True
        elif char == "'" and chinese:
            quoted = True
        elif _ascii_letter(char):
            chinese = False
        at += 1
    return text, text


def say(label: Label, language: str | None, joint: str = " ") -> str:
    """A label in ``language``, or both joined by ``joint`` (Chinese first) when it is None."""
    return label[LANGUAGES.index(language)] if language in LANGUAGES else joint.join(label)


def unstorable(text: str) -> str | None:
    """Why this text cannot be stored (PostgreSQL text holds no NUL, UTF-8 no lone surrogate), or None."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def cell_value(value: T) -> T | str:
    """A value an .xlsx cell can hold: text keeps its length, each control character XML refuses shown as U+FFFD.

    Such text is storable (the API accepts it), so a workbook of it must not fail.
    """
    return _NOT_IN_XML.sub("\ufffd", value) if isinstance(value, str) else value
