"""BPMN messages from outside: delivered to an item that waits for one, or starting a new item.

An item waits for a message at an intermediate catch event, a receive task or a boundary event of
its diagram; a process whose start event waits for one starts an item when it arrives. A message
nothing takes is refused (``UndeliveredMessage``: 404 or 409), and the refusal is in the admin log:
a message is never dropped silently.

Who sends: approvers and administrators send to items (a message moves an item on, or withdraws it);
reporters start items, as they raise them through ``POST /items``. An integration uses the token of a
user with such a role.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import history
from engine.bpmn import deploy, versions
from engine.bpmn.decisions import Deployed
from engine.bpmn.instance import catch_message, run_engine, waiting_messages
from engine.identity import permissions
from engine.items import corrections, workflow
from engine.items.workflow import Message
from engine.store.errors import InvalidInput, MessageUncorrelated, MessageUnknown, NotFound
from engine.store.models import Instance, Item, ProcessDefinition, User

# The variables of a starting message that make the item (as POST /items takes them), not its process data.
ITEM_FIELDS = ("title", "description", "source", "category", "severity", "department", "deadline", "ongoing")


def _check_variables(variables: dict[str, Any]) -> None:
    clash = sorted(workflow.ITEM_VARIABLES & variables.keys())
    if clash:
        message = f"变量 {clash[0]!r} 由事项设定 Variable {clash[0]!r} belongs to the item: a message cannot set it"
        raise InvalidInput(message, errors=[{"field": f"variables.{name}", "message": message} for name in clash])


def deliver(session: Session, actor: User, item_id: int, message: Message, remote: str | None = None) -> Item:
    """Deliver ``message`` to the item under its lock: what waits for it catches it and the engine runs on."""
    permissions.require_message_sender(actor)
    _check_variables(message.variables)
    try:
        item = workflow.lock_item(session, item_id)
    except NotFound as exc:
        raise MessageUnknown(exc.detail, message.name, f"item {item_id}", sorted(message.variables)) from exc
    return _deliver(session, actor, item, message, remote)


def _deliver(session: Session, actor: User, item: Item, message: Message, remote: str | None) -> Item:
    definition, instance, running = workflow.open_item(session, item)
    caught = catch_message(running, message.name, message.variables)
    if not caught:
        awaited = ", ".join(sorted(waiting_messages(running))) or "nothing"
        raise MessageUncorrelated(
            f"事项 {item.id} 没有在等待消息 {message.name!r} Item {item.id} is not waiting for message "
            f"{message.name!r} (it waits for: {awaited})",
            message.name,
            f"item {item.id}",
            sorted(message.variables),
        )
    run = run_engine(running, decisions=Deployed(session, definition.model))
    status_from = item.status
    new_tasks = workflow.store_state(session, item, instance, definition, running, run, actor)
    data = {"message": message.name, "variables": message.variables, "caught": caught}
    if item.closed_at is not None and corrections.is_withdrawn(item):
        # The diagram withdrew the item (撤销): recorded as the administrators' withdrawal is.
        reason = message.variables.get("reason")
        corrections.record_withdrawal(session, item, actor, status_from, {"reason": reason, **data}, remote)
    else:
        history.record(
            session,
            item,
            actor=actor.username,
            action="message_received",
            task=caught[0],
            status_from=status_from,
            status_to=item.status,
            data=data,
        )
    workflow.finish_run(session, item, definition, run, new_tasks, status_from)
    return item


def correlated(session: Session, business_key: str) -> int | None:
    """The item a message with this business key goes to: the one a message started with it, if any."""
    found = select(Instance.item_id).where(Instance.data[workflow.BUSINESS_KEY_VARIABLE].as_string() == business_key)
    return session.scalar(found.order_by(Instance.item_id).limit(1))


def starting_process(session: Session, actor: User, message: Message) -> str:
    """The key of the process whose version for new items starts on ``message``, for a reporter to start."""
    permissions.require_reporter(actor)
    found = []
    for key in session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)):
        current = versions.marked_default(session, key) or deploy.latest(session, key)
        if current.model.get("message_start") == message.name:
            found.append(key)
    variables = sorted(message.variables)
    if not found:
        detail = f"没有流程以消息 {message.name!r} 启动 No process starts on message {message.name!r}"
        raise MessageUnknown(detail, message.name, "processes", variables)
    if len(found) > 1:
        detail = (
            f"多个流程以消息 {message.name!r} 启动 Several processes start on message {message.name!r} "
            f"({', '.join(found)}): a designer retires all but one"
        )
        raise MessageUncorrelated(detail, message.name, "processes", variables)
    return found[0]


def start(
    session: Session,
    actor: User,
    process: str,
    message: Message,
    fields: dict[str, Any],
    timezone: str,
    business_key: str | None = None,
) -> Item:
    """Start a new item on ``process`` (``starting_process``), whose start event catches ``message``.

    ``fields`` are the item's (``ITEM_FIELDS``, checked as ``POST /items`` checks them); ``message.variables``
    the rest, its process's data. Errors name the fields as the sender sent them: ``variables.<name>``.
    """
    _check_variables(message.variables)
    new = workflow.NewItem(**fields, process=process, business_key=business_key)
    try:
        return workflow.create_item(session, actor, new, timezone, message)
    except InvalidInput as exc:
        errors = [{**error, "field": _sent_as(error["field"])} for error in exc.errors if "field" in error]
        raise InvalidInput(exc.detail, errors=errors or exc.errors) from exc


def _sent_as(field: str) -> str:
    # The process is the one the message's name chose: a retired version is the name's problem.
    return "name" if field == "process" else f"variables.{field}"
