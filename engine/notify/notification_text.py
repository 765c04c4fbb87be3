"""What a notification says (通知的文字), in the reader's language, composed from what happened when it is shown.

A notification keeps its ``kind`` and ``data`` (``engine.items.notifications`` writes them); each kind's
wording is here, Chinese and English side by side, for the bell, the API and the e-mail alike. A step's
title comes from the diagram as "中文 English" and is split; the item's title, reasons and comments are
people's own words, shown as written. A notification from before revision 0007 keeps the text it was
``stored`` with and shows it as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

from engine.store.models import Notification
from engine.store.text import Label, bilingual, say

Wording = Callable[[dict[str, Any]], tuple[Label, Label]]  # data -> (title, message)

# A diagram's escalation kinds the office uses; another one is named by its own word.
ESCALATIONS: dict[str, Label] = {"warning": ("预警", "Warning"), "overdue": ("逾期督办", "Overdue")}
STORED = "stored"  # data key of a notification from before 0007: its title and message as they were written


class Said(NamedTuple):
    title: str
    message: str


def describe(notification: Notification, language: str | None) -> Said:
    """The notification in ``language`` (``zh`` or ``en``); in both, Chinese first, when it is None."""
    data = notification.data or {}
    if STORED in data:
        return Said(data[STORED]["title"], data[STORED]["message"])
    wording = WORDINGS.get(notification.kind) or _escalation(notification.kind)
    title, message = wording(data)
    return Said(say(title, language, " / "), say(message, language, "\n"))


def _day(value: str | None) -> Label:
    """An ISO date as each language writes it; no date is "not set"."""
    if not value:
        return ("未定", "not set")
    day = dt.date.fromisoformat(value)
    return (f"{day.year}年{day.month}月{day.day}日", day.isoformat())


def _new_task(data: dict[str, Any]) -> tuple[Label, Label]:
    item = data["item"]
    return (f"新的待办：{item}", f"New task: {item}"), bilingual(data["task"])


def _assigned(data: dict[str, Any]) -> tuple[Label, Label]:
    item = data["item"]
    return (f"指派给您的待办：{item}", f"Assigned to you: {item}"), bilingual(data["task"])


def _rejection(data: dict[str, Any]) -> tuple[Label, Label]:
    item, reason = data["item"], data.get("reason") or ""
    step_zh, step_en = bilingual(data["task"])
    return (f"被退回：{item}", f"Sent back: {item}"), (
        f"{step_zh}｜退回原因：{reason}",
        f"{step_en} | Reason: {reason}",
    )


def _escalation(kind: str) -> Wording:
    label_zh, label_en = ESCALATIONS.get(kind, (kind, kind))

    def wording(data: dict[str, Any]) -> tuple[Label, Label]:
        item = data["item"]
        step_zh, step_en = bilingual(data.get("step") or "")
        day_zh, day_en = _day(data.get("deadline"))
        title = (f"{label_zh}：{item}", f"{label_en}: {item}")
        return title, (f"{step_zh}｜整改时限：{day_zh}", f"{step_en} | Deadline: {day_en}")

    return wording


def _extension_requested(data: dict[str, Any]) -> tuple[Label, Label]:
    item, reason = data["item"], data.get("reason") or ""
    (old_zh, old_en), (new_zh, new_en) = _day(data.get("deadline")), _day(data["new_deadline"])
    title = (f"延期申请：{item}", f"Extension requested: {item}")
    return title, (f"整改时限 {old_zh} → {new_zh}｜理由：{reason}", f"Deadline {old_en} → {new_en} | Reason: {reason}")


def _extension_decided(data: dict[str, Any]) -> tuple[Label, Label]:
    item, comment = data["item"], data.get("comment")
    new_zh, new_en = _day(data["new_deadline"])
    if data["verdict"] == "granted":
        title = (f"同意延期：{item}", f"Extension granted: {item}")
        message = (f"新的整改时限：{new_zh}", f"New deadline: {new_en}")
    else:
        title = (f"不同意延期：{item}", f"Extension refused: {item}")
        message = (f"申请的整改时限：{new_zh}", f"Deadline asked for: {new_en}")
    if comment:
        message = (f"{message[0]}｜审批意见：{comment}", f"{message[1]} | Comment: {comment}")
    return title, message


WORDINGS: dict[str, Wording] = {
    "task": _new_task,
    "assigned": _assigned,
    "rejection": _rejection,
    "extension_requested": _extension_requested,
    "extension_decided": _extension_decided,
}
