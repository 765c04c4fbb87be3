"""Text both databases can store: the one rule, used by the API's fields and by task forms."""

from __future__ import annotations

NUL = "不能包含 NUL 字符 Must not contain NUL characters"
SURROGATE = "不是有效的 Unicode 文本 Not valid Unicode text (lone surrogate)"


def unstorable(text: str) -> str | None:
    """Why this text cannot be stored (PostgreSQL text holds no NUL, UTF-8 no lone surrogate), or None."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None
