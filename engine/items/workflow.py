"""The item lifecycle service: start an item on a diagram, complete its tasks.

Every change runs inside the caller's transaction while holding the item's lock, and writes the
item row, the instance state, the task rows and the history together: all of it or none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import admin_log, history
from engine.bpmn import live, versions
from engine.bpmn.call_rules import CALLED_ONLY
from engine.bpmn.calls import definition_id_of
from engine.bpmn.decisions import Deployed
from engine.bpmn.instance import (
    LIVE_STATES,
    EngineRun,
    Fired,
    awaits_people,
    catch_message,
    current_data,
    find_task,
    instance_key,
    live_user_tasks,
    named_people,
    new_workflow,
    next_timer,
    reached_end_events,
    run_engine,
    set_variable,
)
from engine.identity import permissions
from engine.identity.identity import department_by_code
from engine.items import assignment, called_steps, due, external_tasks, forms, incidents, items, notifications, sources
from engine.measures import mechanism
from engine.notify import webhooks
from engine.store import clock, severity
from engine.store.errors import Forbidden, InvalidInput, NotFound, StaleVersion, TaskNotReady
from engine.store.models import (
    Department,
    Incident,
    Instance,
    Item,
    ItemUnit,
    Job,
    ProcessDefinition,
    Task,
    User,
    utcnow,
)

DEFAULT_PROCESS = "rectification_item"
JOINT_PROCESS = "joint_task"
# Status when a diagram declares none: running, and finished.
FALLBACK_ACTIVE = ("active", "进行中 In progress")
FALLBACK_DONE = ("closed", "已办结 Completed")
# The workflow variable that names the item's owner (set by the assign_owner form).
OWNER_VARIABLE = "owner"
# The workflow variable listing the units taking part (lead first), set when the item starts.
UNITS_VARIABLE = "units"
# The workflow variable with the instant the item becomes overdue, for the diagram's timers.
DEADLINE_VARIABLE = "deadline_end"
# The workflow variables with the item's category ("" when none) and severity as it started (a correction leaves them).
CATEGORY_VARIABLE = "category"
SEVERITY_VARIABLE = "severity"
# The workflow variable with the key a sender gave the item when a message started it (e.g. an intake id).
BUSINESS_KEY_VARIABLE = "business_key"
# The item's own variables, set by the item (its creation, a correction, the owner's form): neither an external
# worker nor a message may overwrite them.
ITEM_VARIABLES = frozenset(
    {
        "department",
        UNITS_VARIABLE,
        DEADLINE_VARIABLE,
        OWNER_VARIABLE,
        CATEGORY_VARIABLE,
        SEVERITY_VARIABLE,
        BUSINESS_KEY_VARIABLE,
    }
)
TIMER_JOB = "timer"


@dataclass(frozen=True)
class NewItem:
    title: str
    department: str
    description: str = ""
    source: str | None = None
    category: str | None = None
    severity: str = severity.DEFAULT
    deadline: dt.date | None = None
    ongoing: bool = False
    co_departments: tuple[str, ...] = ()
    # None: the joint-task diagram when there are co-units, else the default lifecycle.
    process: str | None = None
    business_key: str | None = None
    # The intake submission this item is accepted from (``engine.intake``): its created event names it.
    submission: int | None = None


@dataclass(frozen=True)
class Message:
    """A BPMN message as a sender gives it: its name, and the variables merged into the data of what catches it."""

    name: str
    variables: dict[str, Any]


def etag(item: Item) -> str:
    return f'"{item.id}-{item.version}"'


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _units(session: Session, new: NewItem) -> list[Department]:
    """The lead unit, then the co-units, each known and named once."""
    units = []
    for field, code in [("department", new.department), *(("co_departments", c) for c in new.co_departments)]:
        department = department_by_code(session, code)
        if department is None:
            raise _field_error(field, f"未知单位 Unknown department {code!r}")
        if department in units:
            raise _field_error(field, f"单位重复 Department {code!r} is named twice")
        units.append(department)
    return units


def _definition(session: Session, new: NewItem, message: Message | None) -> ProcessDefinition:
    key = new.process or (JOINT_PROCESS if new.co_departments else DEFAULT_PROCESS)
    try:
        definition = versions.for_new_items(session, key)
    except NotFound as exc:
        raise _field_error("process", exc.detail) from exc
    if definition.model.get(CALLED_ONLY):
        raise _field_error(
            "process",
            f"流程 {key!r} 只能由其他流程调用 Process {key!r} is a stage other processes call "
            '(camunda:isStartableInTasklist="false"): no item starts on it',
        )
    starts_on = definition.model.get("message_start")
    if starts_on is not None and message is None:
        # Its start event would wait for ever: such an item starts when its message arrives.
        raise _field_error(
            "process",
            f"流程 {key!r} 由消息 {starts_on!r} 启动 Process {key!r} starts on message {starts_on!r}: "
            "send that message (POST /api/v1/messages) instead",
        )
    return definition


def create_item(session: Session, actor: User, new: NewItem, timezone: str, message: Message | None = None) -> Item:
    """Raise an item and start its process; ``timezone`` is the office's, for the deadline's timers.

    ``message``: the message its process's start event waits for (``engine.items.messages.start``).
    """
    if new.submission is None:
        permissions.require_reporter(actor)
    if new.ongoing and new.deadline is not None:
        raise _field_error("deadline", "长期坚持的事项没有整改时限 An ongoing item has no deadline")
    sources.require_active(session, new.source)
    severity.require_known(new.severity)
    units = _units(session, new)
    department = units[0]
    permissions.require_raiser(actor, department.id, from_submission=new.submission is not None)
    definition = _definition(session, new, message)
    item = Item(
        title=new.title,
        description=new.description,
        source=new.source,
        category=new.category,
        severity=new.severity,
        department=department,
        deadline=new.deadline,
        ongoing=new.ongoing,
        status="",
        status_label="",
        definition_id=definition.id,
        created_by_id=actor.id,
        version=0,
    )
    session.add(item)
    session.flush()
    session.add_all(
        ItemUnit(item_id=item.id, department=unit, role="lead" if n == 0 else "co", position=n)
        for n, unit in enumerate(units)
    )
    codes = [unit.code for unit in units]
    start_data = {
        "department": department.code,
        UNITS_VARIABLE: codes,
        DEADLINE_VARIABLE: clock.deadline_end(new.deadline, timezone),
        CATEGORY_VARIABLE: new.category or "",
        SEVERITY_VARIABLE: new.severity,
    }
    if new.business_key is not None:
        start_data[BUSINESS_KEY_VARIABLE] = new.business_key
    workflow = new_workflow(definition, start_data)
    if message is not None:
        # One step, past the library's own start task, makes the start event wait; then it catches.
        workflow.do_engine_steps()
        catch_message(workflow, message.name, message.variables)
    run = _propose_deadline(
        item, workflow, timezone, run_engine(workflow, decisions=Deployed(session, definition.model))
    )
    instance = Instance(item_id=item.id, serializer_version="", state="", data={})
    session.add(instance)
    new_tasks = store_state(session, item, instance, definition, workflow, run)
    history.record(
        session,
        item,
        actor=actor.username,
        action="created",
        status_to=item.status,
        data={
            "title": item.title,
            "department": department.code,
            "source": item.source,
            "category": item.category,
            "severity": item.severity,
            "deadline": item.deadline.isoformat() if item.deadline else None,
            "ongoing": item.ongoing,
            "co_departments": codes[1:],
            "process": {"key": definition.key, "version": definition.version},
            **({"message": message.name, "business_key": new.business_key} if message else {}),
            **({"submission": new.submission} if new.submission is not None else {}),
        },
    )
    _record_run(session, item, definition, run)
    notifications.tasks_ready(session, item, new_tasks, None)
    return item


def _propose_deadline(item: Item, workflow: BpmnWorkflow, timezone: str, run: EngineRun) -> EngineRun:
    """An item raised without a deadline takes the one its diagram proposes (``due.proposed``), timers included."""
    deadline = due.proposed(item, current_data(workflow), clock.today(timezone))
    if deadline is None:
        return run
    item.deadline = deadline
    set_variable(workflow, DEADLINE_VARIABLE, clock.deadline_end(deadline, timezone))
    again = run_engine(workflow)  # the deadline watches evaluate their timers afresh: one already due fires now
    return EngineRun(
        run.fired + again.fired, run.failure or again.failure, again.state, run.decisions + again.decisions
    )


def authorize_task(session: Session, actor: User, task_id: int) -> Task:
    """404 for an unknown task, 403 for someone who may not complete it; checked before any body."""
    row = session.get(Task, task_id)
    if row is None:
        raise NotFound(f"任务不存在 No task {task_id}")
    if not assignment.may_complete(actor, row):
        raise Forbidden("您不是该任务的处理人 You may not complete this task")
    return row


def lock_item(session: Session, item_id: int) -> Item:
    item = session.scalars(
        select(Item).where(Item.id == item_id).with_for_update(of=Item).execution_options(populate_existing=True)
    ).one_or_none()
    if item is None:
        raise NotFound(f"事项不存在 No item {item_id}")
    return item


def complete_task(
    session: Session, actor: User, task_id: int, data: dict[str, Any], if_match: str | None = None
) -> Item:
    row = authorize_task(session, actor, task_id)
    return _complete(session, actor, row, data, if_match)


def complete_imported(session: Session, actor: User, row: Task, data: dict[str, Any]) -> Item:
    """Complete a task with what an imported ledger says was done: the importer (a reporter) records the
    step on behalf of the task's people, and the history calls it "imported"."""
    permissions.require_reporter(actor)
    return _complete(session, actor, row, data, None, action="imported")


def _complete(
    session: Session, actor: User, row: Task, data: dict[str, Any], if_match: str | None, action: str = "completed"
) -> Item:
    item = lock_item(session, row.item_id)
    # Re-read under the lock: another request may have completed it while we waited.
    session.refresh(row)
    if row.state != "ready":
        raise TaskNotReady()
    if action == "completed" and not assignment.may_complete(actor, row):
        raise Forbidden("您不是该任务的处理人 You may not complete this task")
    if if_match is not None and if_match not in ("*", etag(item)):
        raise StaleVersion(f"事项已被修改 The item changed since you read it (now {etag(item)})")
    definition = items.definition_of(session, item)
    form = forms.form_of(called_steps.definition(session, definition, row.definition_id).model, row.name)
    forms.validate(session, item, form, data)

    definition, instance, workflow = open_item(session, item)
    spiff_task = find_task(workflow, row.spiff_id)
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise TaskNotReady()
    spiff_task.data.update(forms.with_defaults(form, data))
    spiff_task.run()
    run = run_engine(workflow, decisions=Deployed(session, definition.model))

    row.state = "completed"
    row.completed_at = utcnow()
    row.completed_by_id = actor.id
    row.data = data
    if data.get(mechanism.FIELD) is not None:
        item.mechanism = data[mechanism.FIELD]
    status_from = item.status
    new_tasks = store_state(session, item, instance, definition, workflow, run, actor)
    history.record(
        session,
        item,
        actor=actor.username,
        action=action,
        task=row.name,
        status_from=status_from,
        status_to=item.status,
        data={**data, **called_steps.marker(session, row.definition_id)},
    )
    _record_run(session, item, definition, run)
    notifications.tasks_ready(session, item, new_tasks, data)
    return item


def open_item(session: Session, item: Item) -> tuple[ProcessDefinition, Instance, BpmnWorkflow]:
    """The locked item's definition, stored instance and workflow, to change and then ``store_state``."""
    definition, instance = items.definition_of(session, item), items.instance_of(session, item)
    return definition, instance, live.open_workflow(definition, instance)


def fire_timers(session: Session, item_id: int) -> list[str]:
    """Fire the item's due timers (the worker's job); returns the BPMN ids that fired.

    Runs under the item's lock on the stored state: a timer that already fired is no longer waiting,
    so a second worker on the same job finds nothing to fire.
    """
    item = lock_item(session, item_id)
    definition, instance, workflow = open_item(session, item)
    run = run_engine(workflow, decisions=Deployed(session, definition.model))
    if run.fired or run.failure:
        # A failed timer expression is stored too: the timer is then in error, no longer due.
        _store_fired(session, item, instance, definition, workflow, run)
    else:
        _schedule(session, item, workflow)
    return [fired.element for fired in run.fired]


def store_timers(
    session: Session, item: Item, instance: Instance, definition: ProcessDefinition, workflow: BpmnWorkflow
) -> list[str]:
    """Store a workflow whose timer variables changed (the item is locked): what is due now fires."""
    run = run_engine(workflow, decisions=Deployed(session, definition.model))
    _store_fired(session, item, instance, definition, workflow, run)
    return [fired.element for fired in run.fired]


def _store_fired(
    session: Session,
    item: Item,
    instance: Instance,
    definition: ProcessDefinition,
    workflow: BpmnWorkflow,
    run: EngineRun,
) -> None:
    status_from = item.status
    new_tasks = store_state(session, item, instance, definition, workflow, run)
    finish_run(session, item, definition, run, new_tasks, status_from)


def finish_run(
    session: Session,
    item: Item,
    definition: ProcessDefinition,
    run: EngineRun,
    new_tasks: list[Task],
    status_from: str | None = None,
) -> None:
    """After the state is stored: record the timers that fired and a step that failed, tell the people of new tasks."""
    _record_run(session, item, definition, run, status_from)
    notifications.tasks_ready(session, item, new_tasks, None)


def retry_incident(
    session: Session,
    actor: User,
    item_id: int,
    incident_id: int,
    data: dict[str, Any],
    remote_addr: str | None = None,
) -> Incident:
    """Run the failed step again, first setting ``data`` (e.g. a variable the script lacked).

    An external task a worker gave up on is offered to workers again, with ``data`` among its variables.
    It resolves the incident when that step gets through (a later step that fails opens its own);
    when it fails again, the incident stays open with the new error. Either way the item's history
    and the admin log record the retry.
    """
    permissions.require_admin(actor)
    item = lock_item(session, item_id)
    incident = incidents.get_open(session, item.id, incident_id)
    definition, instance, workflow = open_item(session, item)
    external_tasks.reoffer(session, workflow, item, incident.element, data)
    run = run_engine(workflow, retry=incident.element, data=data, decisions=Deployed(session, definition.model))
    status_from = item.status
    new_tasks = store_state(session, item, instance, definition, workflow, run, actor)
    failed_again = run.failure is not None and run.failure.element == incident.element
    if run.failure is not None and failed_again:
        incidents.fail_again(incident, run.failure)
        run = EngineRun(run.fired)
    else:
        incidents.resolve(incident, actor.username)
    outcome = {"incident": incident.id, "resolved": not failed_again, "data": data}
    history.record(
        session,
        item,
        actor=actor.username,
        action="incident_retried",
        task=incident.element,
        status_from=status_from,
        status_to=item.status,
        data={**outcome, "message": incident.message if failed_again else None},
    )
    _record_run(session, item, definition, run, status_from)
    notifications.tasks_ready(session, item, new_tasks, None)
    admin_log.record(session, actor.username, "incident.retry", f"item {item.id}", remote_addr, **outcome)
    return incident


def _record_run(
    session: Session, item: Item, definition: ProcessDefinition, run: EngineRun, status_from: str | None = None
) -> None:
    """What the engine run did beside moving tasks: timers that fired, decisions evaluated, and a step that failed."""
    _record_escalations(session, item, definition, run.fired, status_from)
    for evaluated in run.decisions:
        history.record(
            session,
            item,
            actor=None,
            action="decision",
            task=evaluated.element,
            status_from=status_from or item.status,
            status_to=item.status,
            data=evaluated.as_record(),
        )
    if run.failure is not None:
        incidents.open_incident(session, item, run.failure)


def _record_escalations(
    session: Session, item: Item, definition: ProcessDefinition, fired: list[Fired], status_from: str | None = None
) -> None:
    for timer in fired:
        model = called_steps.definition(session, definition, timer.definition_id).model
        escalation = model.get("escalations", {}).get(timer.element, {})
        history.record(
            session,
            item,
            actor=None,
            action="escalation" if escalation else "timer",
            task=timer.element,
            status_from=status_from or item.status,
            status_to=item.status,
            data={**escalation, **called_steps.marker(session, timer.definition_id)},
        )
        if escalation:
            notifications.escalated(session, item, escalation["kind"], escalation["name"])
            if escalation["kind"] == "overdue":
                webhooks.announce(session, item, webhooks.OVERDUE)


def _schedule(session: Session, item: Item, workflow: BpmnWorkflow) -> None:
    """Keep the item's timer job due when its earliest waiting timer is."""
    job = session.scalar(select(Job).where(Job.kind == TIMER_JOB, Job.item_id == item.id))
    due = next_timer(workflow)
    if job is None and due is not None:
        session.add(Job(kind=TIMER_JOB, item_id=item.id, due_at=due))
    elif job is not None:
        job.due_at = due
        job.attempts = 0


def store_state(
    session: Session,
    item: Item,
    instance: Instance,
    definition: ProcessDefinition,
    workflow: BpmnWorkflow,
    run: EngineRun,
    actor: User | None = None,
) -> list[Task]:
    """Write the workflow's state (as ``run`` measured it) into the item, its tasks and its instance."""
    data = current_data(workflow)
    _sync_owner(session, item, data)
    _sync_units(session, item, data)
    status_from, was_closed = item.status, item.closed_at is not None
    item.status, item.status_label = _status(session, definition, workflow)
    now = utcnow()
    item.closed_at = now if workflow.completed else None
    item.updated_at = now
    item.version += 1
    new_tasks = _sync_tasks(session, item, definition, workflow, actor)
    external_tasks.sync(session, item, workflow)
    instance.serializer_version, instance.state = run.state
    instance.data = data
    live.keep_on_commit(session, instance, definition.id, workflow)
    _schedule(session, item, workflow)
    webhooks.item_changed(session, item, status_from, was_closed)
    return new_tasks


def _sync_owner(session: Session, item: Item, data: dict[str, Any]) -> None:
    username = data.get(OWNER_VARIABLE)
    if isinstance(username, str) and (item.owner is None or item.owner.username != username):
        item.owner = session.scalar(select(User).where(User.username == username))


def _sync_units(session: Session, item: Item, data: dict[str, Any]) -> None:
    """Units the diagram adds to ``units`` (co-units a manager names on the way) take part from now on: they see
    the item and have their part of it. A unit never leaves an item (a redo round lists only some of them)."""
    codes = data.get(UNITS_VARIABLE)
    if not isinstance(codes, list) or len(codes) < 2:  # the lead unit alone is there from the start
        return
    taking_part = session.scalars(select(ItemUnit).where(ItemUnit.item_id == item.id)).all()
    known = {unit.department.code for unit in taking_part}
    position = len(taking_part)
    for code in codes:
        department = department_by_code(session, code) if isinstance(code, str) and code not in known else None
        if department is not None:  # an unknown code has no part to give (a form names only known units)
            session.add(ItemUnit(item_id=item.id, department=department, role="co", position=position))
            position += 1
            known.add(department.code)


def _status(session: Session, definition: ProcessDefinition, workflow: BpmnWorkflow) -> tuple[str, str]:
    """The status the item's live step declares (in its own definition, called or not), or its end event."""
    if workflow.completed:
        statuses: dict[str, dict[str, str]] = definition.model["statuses"]
        for bpmn_id in reversed(reached_end_events(workflow)):
            if bpmn_id in statuses:
                return statuses[bpmn_id]["status"], statuses[bpmn_id]["label"]
        return FALLBACK_DONE
    for task in live_user_tasks(workflow):
        model = called_steps.definition(session, definition, definition_id_of(task)).model
        found = model["statuses"].get(task.task_spec.bpmn_id)
        if found:
            return found["status"], found["label"]
    return FALLBACK_ACTIVE


def _sync_tasks(
    session: Session, item: Item, definition: ProcessDefinition, workflow: BpmnWorkflow, actor: User | None
) -> list[Task]:
    live = {str(task.id): task for task in live_user_tasks(workflow)}
    rows = session.scalars(select(Task).where(Task.item_id == item.id, Task.state.in_(("ready", "waiting"))))
    kept = set()
    created = []
    for row in rows:
        task = live.get(row.spiff_id)
        if task is None or task.task_spec.bpmn_id != row.name:
            row.state = "cancelled"
            row.completed_at = utcnow()
        else:
            row.state = LIVE_STATES[task.state]
            kept.add(row.spiff_id)
    for spiff_id, task in live.items():
        if spiff_id in kept or awaits_people(task):
            continue
        called = definition_id_of(task)
        spec = called_steps.definition(session, definition, called).model["tasks"][task.task_spec.bpmn_id]
        row = Task(
            definition_id=called,
            item_id=item.id,
            spiff_id=spiff_id,
            name=task.task_spec.bpmn_id,
            title=spec["title"],
            lane=spec["lane"],
            state=LIVE_STATES[task.state],
            instance_key=instance_key(task),
        )
        context = assignment.Context(session, item, task.data, actor.id if actor else None, named_people(task))
        assignment.apply(row, assignment.for_step(spec, context))
        session.add(row)
        created.append(row)
    session.flush()
    return created
