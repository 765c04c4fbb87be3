"""What a person may do on an item's page besides its diagram's tasks: report progress, ask for more
time, decide on a request, hand a unit's part to one of its people.

Each offer is the engine's own check (the one the API runs before it reads a body), asked without
acting: a form shows only to those whose post would be accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session

from engine.deadlines import extensions
from engine.identity import permissions
from engine.items import delegation
from engine.store.errors import Forbidden, InvalidInput
from engine.store.models import Department, ExtensionRequest, Item, Task, User


def allowed(check: Callable[[], object]) -> bool:
    """Whether ``check`` (an engine ``require_*``) lets the action through."""
    try:
        check()
    except (Forbidden, InvalidInput):
        return False
    return True


@dataclass(frozen=True)
class Sent:
    """A form of the item's page that came back refused: which one, what was typed, and its messages.

    The messages are ``web.pages.base.field_errors``'s, drawn beside the fields by ``_macros.html``.
    """

    form: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def value(self, form: str, name: str) -> str:
        return self.values.get(name, "") if form == self.form else ""

    def errors_in(self, form: str) -> list[dict[str, str]]:
        return self.errors if form == self.form else []

    @property
    def elsewhere(self) -> list[dict[str, str]]:
        """Messages about no field the form sent (the item itself): said at the top of the page, since
        the form may no longer be offered (a withdrawn item takes no progress report)."""
        return [error for error in self.errors if error.get("field") not in self.values]


@dataclass(frozen=True)
class Handover:
    """A ready task of a unit that the person may give to one of the unit's people."""

    task: Task
    unit: Department
    people: list[User]
    assignee: User | None


@dataclass(frozen=True)
class Actions:
    progress: bool
    extension: bool
    pending: ExtensionRequest | None
    decide: bool
    handovers: list[Handover]


def _handover(session: Session, task: Task) -> Handover:
    # Only a unit's task is handed on, so it names its unit (``require_delegator``).
    unit = session.get_one(Department, task.candidate_department_id)
    assignee = session.get(User, task.assignee_id) if task.assignee_id is not None else None
    return Handover(task, unit, delegation.receivers(session, task), assignee)


def of(session: Session, user: User, item: Item, live: list[Task]) -> Actions:
    pending = extensions.pending_for(session, item)
    return Actions(
        # A closed item's progress is its result: the form is offered while it is open.
        progress=item.closed_at is None
        and allowed(partial(permissions.require_progress_reporter, session, user.id, item)),
        extension=allowed(partial(extensions.require_requester, user, item))
        and allowed(partial(extensions.require_extendable, session, item)),
        pending=pending,
        decide=pending is not None and allowed(partial(extensions.require_decider, user, pending)),
        handovers=[
            _handover(session, task)
            for task in live
            if task.state == "ready" and allowed(partial(delegation.require_delegator, session, user, task.id))
        ],
    )


def decisions_for(session: Session, user: User) -> list[tuple[ExtensionRequest, Item]]:
    """The requests waiting for this person's decision, with their items."""
    return [
        (found, item)
        for found, item in extensions.pending(session)
        if allowed(partial(extensions.require_decider, user, found))
    ]
