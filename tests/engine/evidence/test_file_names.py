"""Names as kept and offered back: the last part only, nothing hidden or reordered, an extension that fits."""

from __future__ import annotations

import pytest

from engine.evidence import names


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("整改照片 第1张.png", "整改照片 第1张.png"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\config", "config"),
        ("C:\\Users\\张三\\Desktop\\报告.pdf", "报告.pdf"),
        ("C:报告.pdf", "报告.pdf"),
        (".htaccess", "htaccess"),
        ("...", ""),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ('what?<is>"this".pdf', "what__is__this_.pdf"),
        ("CON.txt", "_CON.txt"),
        ("report. . .", "report"),
        ('=SUM(1+1)"x".txt', "=SUM(1+1)_x_.txt"),
    ],
)
def test_a_name_is_made_safe(given: str, kept: str) -> None:
    assert names.clean(given) == kept


def test_a_long_name_keeps_its_extension_and_its_chinese() -> None:
    kept = names.clean("关于整改落实情况的报告" * 30 + ".docx")
    assert len(kept) == names.MAX_LENGTH
    assert kept.startswith("关于整改落实情况的报告") and kept.endswith(".docx")


@pytest.mark.parametrize(
    ("name", "media_type", "offered"),
    [
        ("报告.PDF", "application/pdf", "报告.PDF"),
        ("report.html", "text/plain; charset=utf-8", "report.html.txt"),
        ("photo.exe", "image/png", "photo.exe.png"),
        ("minutes", "application/msword", "minutes.doc"),
        ("ledger.et", "application/vnd.ms-excel", "ledger.et"),
        ("macro.docm", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "macro.docm.docx"),
    ],
)
def test_the_extension_fits_what_the_bytes_are(name: str, media_type: str, offered: str) -> None:
    assert names.fitted(name, media_type) == offered
