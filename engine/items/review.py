"""What a task's person needs from the steps before: what they judge, and why a task came back.

A review judges what the earlier steps submitted (the measures, the owner's result and evidence; each
unit's part and the lead unit's summary of a joint task) and the progress reported meanwhile. A task
made ready again by a review's rejection (退回) carries the reviewer's reason and the answer given to
that same task last time, to start from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload

from engine.items import forms, items, progress
from engine.items.review_form import DECISION, REJECT, is_rejection, reason
from engine.store.models import Attachment, Item, ProgressUpdate, Task, User


@dataclass(frozen=True)
class Submission:
    """The latest answer to one earlier step (for a joint task's part: one unit's), labelled by its form."""

    task: Task  # completed: its title, who (``completed_by``) and when (``completed_at``)
    unit: str | None  # the unit's name when the step is one unit's part
    answers: list[forms.Answer]
    files: list[Attachment]  # the evidence files its answers name (form fields of format ``attachment``)


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
    unit_names = {unit.department.code: unit.department.name for unit in items.units(session, item)}
    latest: dict[tuple[int | None, str, str | None], Task] = {}
    # A step is an element of its definition: a called process's may have the id of one of the item's own.
    for done in _completed(session, [item.id]):
        if done.id < task.id and _step(done) != _step(task) and not is_rejection(done.data):
            latest[(*_step(done), done.instance_key)] = done  # a dict keeps the place of the first answer
    submissions = []
    for done in latest.values():
        answers = forms.answers(forms.form_of(items.task_model(session, item, done), done.name), done.data or {})
        unit = unit_names.get(done.instance_key, done.instance_key) if done.instance_key else None
        submissions.append(Submission(done, unit, answers, _files(session, item, forms.file_ids(answers))))
    return Judged(submissions, progress.updates(session, item))


def _step(task: Task) -> tuple[int | None, str]:
    return task.definition_id, task.name


def _files(session: Session, item: Item, ids: list[int]) -> list[Attachment]:
    """The item's files by id, in the order named (a removed one too: it is what was submitted)."""
    if not ids:
        return []
    query = select(Attachment).where(Attachment.id.in_(ids), Attachment.item_id == item.id)
    found = {attachment.id: attachment for attachment in session.scalars(query)}
    return [found[i] for i in ids if i in found]


def _sent_back(session: Session, tasks: list[Task]) -> dict[int, tuple[int, int]]:
    """The tasks among ``tasks`` that a rejection sent back: each one's last answer and that rejection, by id.

    A task is sent back when a review rejected after the last time the same task (for a joint task's part:
    the same unit's) was answered. One query, the item's history staying in the database.
    """
    if not tasks:
        return {}
    asked, answer, rejection = aliased(Task), aliased(Task), aliased(Task)
    last_answer = (
        select(func.max(answer.id))
        .where(
            answer.item_id == asked.item_id,
            answer.state == "completed",
            answer.id < asked.id,
            answer.definition_id.is_not_distinct_from(asked.definition_id),
            answer.name == asked.name,
            answer.instance_key.is_not_distinct_from(asked.instance_key),
        )
        .correlate(asked)  # also inside ``last_rejection``, whose own FROM is a level deeper
        .scalar_subquery()
    )
    last_rejection = (
        select(func.max(rejection.id))
        .where(
            rejection.item_id == asked.item_id,
            rejection.state == "completed",
            rejection.id < asked.id,
            rejection.id > last_answer,
            rejection.data[DECISION].as_string() == REJECT,
        )
        .scalar_subquery()
    )
    query = select(asked.id, last_answer, last_rejection).where(asked.id.in_({task.id for task in tasks}))
    return {task_id: (answered, rejected) for task_id, answered, rejected in session.execute(query) if rejected}


def returned(session: Session, tasks: list[Task]) -> set[int]:
    """The ids of the tasks among ``tasks`` that a rejection sent back (the inbox's 退回 mark)."""
    return set(_sent_back(session, tasks))


def returns(session: Session, tasks: list[Task]) -> dict[int, Return]:
    """The tasks among ``tasks`` that a rejection sent back, by task id, with who sent each back and why."""
    backs = _sent_back(session, tasks)
    wanted = {task_id for pair in backs.values() for task_id in pair}
    query = select(Task).where(Task.id.in_(wanted)).options(joinedload(Task.completed_by))
    rows = {row.id: row for row in session.scalars(query)} if wanted else {}
    found = {}
    for task_id, (answered, rejected) in backs.items():
        rejection = rows[rejected]
        found[task_id] = Return(
            rejection.completed_by, rejection.completed_at, reason(rejection.data), dict(rows[answered].data or {})
        )
    return found
