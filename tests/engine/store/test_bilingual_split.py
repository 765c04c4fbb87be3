"""A "中文 English" text split for a page that shows one language."""

from __future__ import annotations

import time

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


def test_many_quotes_split_quickly() -> None:
    started = time.perf_counter()
    assert bilingual("中" + "'" * 5000 + " ") == ("中" + "'" * 5000 + " ",) * 2
    assert time.perf_counter() - started < 5
