"""What a task's person needs from the steps before: what they judge, and why a task came back.

A review judges what the earlier steps submitted (the measures, the owner's result and evidence; each
unit's part and the lead unit's summary of a joint task) and the progress reported meanwhile. A task
made ready again by a review's rejection (退回) carries the reviewer's reason and the answer given to
that same task last time, to start from.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engine.items import forms, items, progress
from engine.items.review_form import is_rejection, reason
from engine.store.models import Item, ProgressUpdate, Task, User


@dataclass(frozen=True)
class Submission:
    """The latest answer to one earlier step (for a joint task's part: one unit's), labelled by its form."""

    task: Task  # completed: its title, who (``completed_by``) and when (``completed_at``)
    unit: str | None  # the unit's name when the step is one unit's part
    answers: list[forms.Answer]


@dataclass(frozen=True)
class Judged:
    submissions: list[Submission]  # in the order the steps were first done
    progress: list[ProgressUpdate]  # newest first


@dataclass(frozen=True)
class Return:
    """A task sent back: who sent it back, when, why, and what was answered to it last time."""

    by: User | None
    at: dt.datetime | None
    reason: str
    previous: dict[str, Any]


def _completed(session: Session, item_ids: Iterable[int]) -> list[Task]:
    query = select(Task).where(Task.item_id.in_(set(item_ids)), Task.state == "completed")
    return list(session.scalars(query.options(joinedload(Task.completed_by)).order_by(Task.id)))


def what_to_judge(session: Session, task: Task) -> Judged:
    """What the steps before ``task`` submitted and the item's progress updates.

    Each other step counts once, with its latest answer (one per unit for a joint task's parts); earlier
    answers to ``task``'s own step and rejections are not what is judged (a return shows the latter).
    """
    item = session.get_one(Item, task.item_id)
    model = items.definition_of(session, item).model
    unit_names = {unit.department.code: unit.department.name for unit in items.units(session, item)}
    latest: dict[tuple[str, str | None], Task] = {}
    for done in _completed(session, [item.id]):
        if done.id < task.id and done.name != task.name and not is_rejection(done.data):
            latest[(done.name, done.instance_key)] = done  # a dict keeps the place of the first answer
    submissions = [
        Submission(
            task=done,
            unit=unit_names.get(done.instance_key, done.instance_key) if done.instance_key else None,
            answers=forms.answers(forms.form_of(model, done.name), done.data or {}),
        )
        for done in latest.values()
    ]
    return Judged(submissions, progress.updates(session, item))


def _returned(task: Task, done: list[Task]) -> Return | None:
    earlier = [row for row in reversed(done) if row.id < task.id]  # latest first
    same = (row for row in earlier if row.name == task.name and row.instance_key == task.instance_key)
    previous = next(same, None)
    if previous is None:
        return None
    rejection = next((row for row in earlier if row.id > previous.id and is_rejection(row.data)), None)
    if rejection is None:
        return None
    return Return(rejection.completed_by, rejection.completed_at, reason(rejection.data), dict(previous.data or {}))


def returns(session: Session, tasks: list[Task]) -> dict[int, Return]:
    """The tasks among ``tasks`` that a rejection sent back, by task id (one query for them all)."""
    done: dict[int, list[Task]] = defaultdict(list)
    for row in _completed(session, (task.item_id for task in tasks)) if tasks else []:
        done[row.item_id].append(row)
    found = {task.id: _returned(task, done[task.item_id]) for task in tasks}
    return {task_id: back for task_id, back in found.items() if back is not None}
