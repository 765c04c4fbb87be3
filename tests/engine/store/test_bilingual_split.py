"""A "中文 English" text split for a page that shows one language."""

from __future__ import annotations

import pytest

from engine.store.text import bilingual


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("审核验收 Review", ("审核验收", "Review")),
        ("整改时限：2026 年 Deadline: 2026", ("整改时限：2026 年", "Deadline: 2026")),
        (
            "步骤 'rectify' 在新版本中不存在 The step 'rectify' is gone",
            ("步骤 'rectify' 在新版本中不存在", "The step 'rectify' is gone"),
        ),
        # The Chinese part ends with a quoted id.
        (
            "第 2 版没有元素 'nowhere' Version 2 has no element 'nowhere'",
            ("第 2 版没有元素 'nowhere'", "Version 2 has no element 'nowhere'"),
        ),
        ("plain English", ("plain English", "plain English")),
        ("只有中文", ("只有中文", "只有中文")),
    ],
)
def test_the_chinese_and_the_english_part(text: str, parts: tuple[str, str]) -> None:
    assert bilingual(text) == parts


@pytest.mark.parametrize(
    "text",
    ["中" + "'" * 50_000 + " ", "中 " * 50_000, "中'" + " " * 50_000 + "'", "中" + "'a" * 50_000],
    ids=["quotes", "spaces", "one long quote", "quoted letters"],
)
def test_long_hostile_text_is_one_language_and_read_in_one_pass(text: str) -> None:
    # Texts a quadratic split took minutes over (a regular expression did, 1.3 s for 10,000 characters).
    assert bilingual(text) == (text, text)
