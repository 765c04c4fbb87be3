"""In-app notifications (通知): who hears about what.

- ``task``: a task became ready that you may complete (you, or your unit).
- ``assigned``: a manager gave a task to you.
- ``rejection``: a review sent the work back to you, with the reviewer's reason.
- ``extension_requested``: approvers hear that a deadline extension was asked for.
- ``extension_decided``: the requester hears whether it was granted.
- ``warning`` / ``overdue`` (a diagram's escalation kind): a deadline timer fired (预警 / 逾期督办); the
  responsible unit's managers and the approvers hear of it.

A notification stores what happened (its ``kind`` and ``data``), never text: ``engine.notify.notification_text``
says it in the reader's language when it is shown or mailed.

E-mail: a session whose ``info`` carries ``MAIL_FLAG`` (set by ``enable_mail`` on the session factory
of whoever has ``RECTIFLOW_SMTP_*`` configured: the web app and the worker) also enqueues one
``email`` job per notification, in the same transaction; the worker sends it (``engine.notify.mailer``).
The engine itself reads no configuration.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.identity.identity import Role
from engine.items import assignment, review_form
from engine.notify.mailer import EMAIL_JOB
from engine.store.config import MailSettings
from engine.store.errors import NotFound
from engine.store.models import ExtensionRequest, Item, Job, Notification, Task, User, UserRole, utcnow

MAIL_FLAG = "rectiflow_mail"


def enable_mail(sessions: sessionmaker[Session], mail: MailSettings | None) -> None:
    """Sessions from this factory enqueue e-mail for each notification; no-op without mail settings."""
    if mail is not None:
        sessions.configure(info={**sessions.kw.get("info", {}), MAIL_FLAG: True})


def enqueue_email(session: Session, notification: Notification) -> Job:
    """An email job for the notification, due now, in the caller's transaction."""
    if notification.id is None:
        session.flush()
    job = Job(
        kind=EMAIL_JOB, item_id=notification.item_id, due_at=utcnow(), payload={"notification_id": notification.id}
    )
    session.add(job)
    return job


def _notify(session: Session, user_ids: Iterable[int], kind: str, item: Item, **data: str | None) -> None:
    """``data``: what the wording of ``kind`` needs besides the item's title (``notification_text``)."""
    created = [
        Notification(user_id=user_id, kind=kind, item_id=item.id, data={"item": item.title, **data})
        for user_id in sorted(set(user_ids))
    ]
    session.add_all(created)
    if created and session.info.get(MAIL_FLAG):
        session.flush()
        for notification in created:
            enqueue_email(session, notification)


def tasks_ready(session: Session, item: Item, tasks: list[Task], submitted: dict[str, object] | None) -> None:
    """Tell the candidates of newly ready tasks; after a rejection, say so and why."""
    rejected = review_form.is_rejection(submitted)
    for task in tasks:
        users = session.scalars(select(User.id).where(assignment.candidates_clause(task)))
        if rejected:
            _notify(session, users, "rejection", item, task=task.title, reason=review_form.reason(submitted))
        else:
            _notify(session, users, "task", item, task=task.title)


def escalated(session: Session, item: Item, kind: str, name: str) -> None:
    """A deadline timer fired: the responsible unit's managers and all approvers hear of it."""
    managers = select(UserRole.user_id).where(UserRole.role == Role.MANAGER)
    approvers = select(UserRole.user_id).where(UserRole.role == Role.APPROVER)
    users = session.scalars(
        select(User.id).where(
            User.active.is_(True),
            or_(User.id.in_(approvers), User.id.in_(managers) & (User.department_id == item.department_id)),
        )
    )
    deadline = item.deadline.isoformat() if item.deadline else None
    _notify(session, users, kind, item, step=name, deadline=deadline)


def for_user(session: Session, user: User, limit: int = 200) -> list[Notification]:
    """Newest first."""
    query = select(Notification).where(Notification.user_id == user.id)
    return list(session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    found = session.get(Notification, notification_id)
    if found is None or found.user_id != user.id:
        raise NotFound(f"通知不存在 No notification {notification_id}")
    if found.read_at is None:
        found.read_at = utcnow()
    return found


def unread_count(session: Session, user: User) -> int:
    """For the bell on every page: one COUNT over the user's rows (``ix_notification_user_created``)."""
    query = select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    return session.scalar(query) or 0


def mark_all_read(session: Session, user: User) -> int:
    """Every unread notification of the user; returns how many there were."""
    done = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def extension_requested(session: Session, item: Item, request: ExtensionRequest) -> None:
    """Approvers hear of a request to move a deadline."""
    approvers = select(UserRole.user_id).where(UserRole.role == Role.APPROVER)
    users = session.scalars(select(User.id).where(User.active.is_(True), User.id.in_(approvers)))
    current = request.current_deadline.isoformat() if request.current_deadline else None
    _notify(
        session,
        users,
        "extension_requested",
        item,
        deadline=current,
        new_deadline=request.new_deadline.isoformat(),
        reason=request.reason,
    )


def extension_decided(session: Session, item: Item, request: ExtensionRequest) -> None:
    """The requester hears the decision."""
    _notify(
        session,
        [request.requested_by_id],
        "extension_decided",
        item,
        verdict=request.state,
        new_deadline=request.new_deadline.isoformat(),
        comment=request.comment,
    )


def task_assigned(session: Session, item: Item, task: Task, user: User) -> None:
    """The person a manager gave a task to."""
    _notify(session, [user.id], "assigned", item, task=task.title)
