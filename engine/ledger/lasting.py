"""What the ledger shows of each item's 长效机制, for a page or an export batch in four queries.

- closed with a lasting measure or without (``mechanism.lasting_clause``, as the reports count it), and
  what its latest review noted; None for an item still open or withdrawn;
- the measures (制度性措施) linked to it, any status;
- the earlier items it looks like (曾整改过, ``recurrence_scans``: only those the reader may see);
- the intake submissions (来源反映) accepted as it or merged into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.intake.submissions import BECAME_ITEMS
from engine.items.corrections import is_withdrawn
from engine.measures import mechanism, recurrence_scans
from engine.store.models import Item, Measure, MeasureItem, Submission, User


@dataclass(frozen=True)
class Lasting:
    lasting: bool | None = None  # closed with a lasting measure, without one; None: not closed
    mechanism: str | None = None  # what its latest review noted (``mechanism.LABELS``)
    measures: tuple[Measure, ...] = ()
    earlier: tuple[int, ...] = ()  # the numbers of the earlier items it looks like, latest closed first
    submissions: tuple[int, ...] = ()

    @property
    def came_back(self) -> bool:
        return bool(self.earlier)


def of_items(session: Session, user: User, batch: Sequence[Item], months: int) -> dict[int, Lasting]:
    """Each item of ``batch`` (by id); ``months``: ``Settings.recurrence_months``."""
    ids = [item.id for item in batch]
    if not ids:
        return {}
    closed = {item.id for item in batch if item.closed_at is not None and not is_withdrawn(item)}
    verdicts = session.execute(
        select(Item.id, mechanism.lasting_clause(), Item.mechanism).where(Item.id.in_(ids))
    ).all()
    measures: dict[int, list[Measure]] = {}
    linked = select(MeasureItem.item_id, Measure).join(Measure, Measure.id == MeasureItem.measure_id)
    for item_id, measure in session.execute(linked.where(MeasureItem.item_id.in_(ids)).order_by(Measure.id)):
        measures.setdefault(item_id, []).append(measure)
    submissions: dict[int | None, list[int]] = {}  # never None (the ids asked), as the column is typed
    came_with = select(Submission.item_id, Submission.id).where(
        Submission.item_id.in_(ids), Submission.status.in_(BECAME_ITEMS)
    )
    for joined, submission_id in session.execute(came_with.order_by(Submission.id)):
        submissions.setdefault(joined, []).append(submission_id)
    earlier = recurrence_scans.earlier_of(session, user, batch, months)
    return {
        item_id: Lasting(
            bool(with_measure) if item_id in closed else None,
            noted,
            tuple(measures.get(item_id, ())),
            tuple(found.item.id for found in earlier.get(item_id, ())),
            tuple(submissions.get(item_id, ())),
        )
        for item_id, with_measure, noted in verdicts
    }
