"""长效机制 at close-out: the review forms' optional ``mechanism``, and which closed items have a lasting measure.

A review (processes/forms/review.json, joint_review.json) may note ``measure_adopted`` (已建立长效机制) or
``none_needed`` (无需建立长效机制). An item's mechanism is the one its latest review noting one said, kept on
the item as each task is completed (``Item.mechanism``; migration 0023 filled it in from the tasks): the
ledger filters 100,000 items by it without a subquery per item.
A closed item counts *with* a lasting measure when that is ``measure_adopted``, or when a measure in
force (施行) is linked to it; every other closed item counts *without*.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.store.models import Item, Measure, MeasureItem
from engine.store.text import Label

FIELD = "mechanism"
ADOPTED, NONE_NEEDED = "measure_adopted", "none_needed"
LABELS: dict[str, Label] = {
    ADOPTED: ("已建立长效机制", "Lasting measure adopted"),
    NONE_NEEDED: ("无需建立长效机制", "No mechanism needed"),
}


def in_force_linked() -> ColumnElement[bool]:
    return exists().where(
        MeasureItem.item_id == Item.id, MeasureItem.measure_id == Measure.id, Measure.status == "in_force"
    )


def lasting_clause() -> ColumnElement[bool]:
    """Of a closed item: it was closed with a lasting measure (noted, or a measure in force linked).

    Never NULL (nothing noted is not adopted), so that its negation selects the items closed without one.
    """
    return or_(func.coalesce(Item.mechanism, NONE_NEEDED) == ADOPTED, in_force_linked())


def of_item(session: Session, item_id: int) -> str | None:
    """The mechanism the item's reviews noted last, or None."""
    return session.scalar(select(Item.mechanism).where(Item.id == item_id))
