"""Moving running items onto another version of their process: asked by a designer, confirmed by another person.

A designer asks (or first tries, ``dry_run``) for the items of one version, or named items, to move onto a
target version, with an element mapping for the steps whose id the target changed (by default a step
keeps its id). Nothing moves until an approver or an admin who is not the asker confirms; the admin log
records both. Each item then moves on its own, all or nothing, under its lock: it keeps its data, its
history and its waiting tasks (renamed or re-assigned as the target says), gets a ``migrated`` history
event, and its deadline timers are evaluated again from the target. An item that cannot move is
reported with the reason and left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import admin_log, history
from engine.bpmn import deploy, diff, migration
from engine.bpmn.aspects import Aspect
from engine.bpmn.decisions import Deployed
from engine.bpmn.instance import dump, find_task, load_specs, named_people, restore, run_engine
from engine.identity import permissions
from engine.items import assignment, workflow
from engine.store.errors import AlreadyDecided, Forbidden, InvalidInput, NotFound, StateTooLarge
from engine.store.models import Instance, Item, Job, ProcessDefinition, ProcessMigration, Task, User, utcnow

# Items one migration may name, and items of one version it may move: what one request can carry and confirm.
MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Ask:
    """What a designer asks for: every running item of ``from_version``, or the ``items`` named."""

    to_version: int
    mapping: dict[str, str] = field(default_factory=dict)
    from_version: int | None = None
    items: tuple[int, ...] = ()
    note: str | None = None


def _refused(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": name, "message": message}])


def _elements(spec: Any, subprocess_specs: dict[str, Any]) -> set[str]:
    return {
        task_spec.bpmn_id
        for process in (spec, *subprocess_specs.values())
        for task_spec in process.task_specs.values()
        if task_spec.bpmn_id
    }


@dataclass
class _Target:
    definition: ProcessDefinition
    spec: Any
    subprocess_specs: dict[str, Any]


def _version(session: Session, key: str, version: int, name: str) -> ProcessDefinition:
    """A version of the process, refused by the field ``name`` when there is no such version."""
    try:
        return deploy.get(session, key, version)
    except NotFound as exc:
        raise _refused(name, exc.detail) from exc


def _target(session: Session, key: str, ask: Ask) -> _Target:
    definition = _version(session, key, ask.to_version, "to_version")
    if definition.retired:
        raise _refused("to_version", f"第 {ask.to_version} 版已停用 Version {ask.to_version} is retired")
    return _loaded(definition)


def _loaded(definition: ProcessDefinition) -> _Target:
    spec, subprocess_specs = load_specs(definition)
    return _Target(definition, spec, subprocess_specs)


def _selected(session: Session, key: str, ask: Ask, target: _Target) -> list[Item]:
    """The items asked for, in id order; items of another process or unknown ids are refused by name."""
    if (ask.from_version is None) == (not ask.items):
        raise _refused("items", "请指定原版本或事项之一 Give either from_version or items, not both")
    if ask.from_version is not None:
        if ask.from_version == ask.to_version:
            raise _refused("from_version", "原版本与目标版本相同 from_version and to_version are the same")
        source = _version(session, key, ask.from_version, "from_version")
        query = select(Item).where(Item.definition_id == source.id, Item.closed_at.is_(None))
        found = list(session.scalars(query.order_by(Item.id).limit(MAX_ITEMS + 1)))
        if len(found) > MAX_ITEMS:
            raise _refused("from_version", f"一次最多迁移 {MAX_ITEMS} 项 At most {MAX_ITEMS:,} items move at once")
        return found
    if len(ask.items) > MAX_ITEMS:
        raise _refused("items", f"一次最多迁移 {MAX_ITEMS} 项 At most {MAX_ITEMS:,} items move at once")
    found = list(session.scalars(select(Item).where(Item.id.in_(set(ask.items))).order_by(Item.id)))
    of_process = set(session.scalars(select(ProcessDefinition.id).where(ProcessDefinition.key == key)))
    missing = sorted(set(ask.items) - {item.id for item in found if item.definition_id in of_process})
    if missing:
        raise _refused("items", f"这些事项不属于流程 {key!r}：{missing} Not items of process {key!r}: {missing}")
    return found


def _check_mapping(session: Session, ask: Ask, target: _Target, items: list[Item]) -> None:
    known = _elements(target.spec, target.subprocess_specs)
    sources: set[str] = set()
    for definition_id in {item.definition_id for item in items}:
        sources |= _elements(*load_specs(session.get_one(ProcessDefinition, definition_id)))
    for old, new in ask.mapping.items():
        if new not in known:
            raise _refused(
                f"mapping.{old}",
                f"第 {ask.to_version} 版没有元素 {new!r} Version {ask.to_version} has no element {new!r}",
            )
        if old not in sources:
            message = f"所选事项的版本中没有元素 {old!r} The items' versions have no element {old!r}"
            raise _refused(f"mapping.{old}", message)


@dataclass(frozen=True)
class Unmapped:
    """A user task of the older version that the target has none of by its id: where its waiting items go."""

    element: str
    title: str
    # The target's step the comparison pairs it with (its id changed); None when it was removed.
    suggested: str | None


@dataclass(frozen=True)
class ToMap:
    """What a mapping for two versions is about: the older version's steps the target lacks, and the target's."""

    steps: tuple[Unmapped, ...]
    # The target's user tasks, element → title, in the diagram's order.
    targets: dict[str, str]


def steps_to_map(session: Session, actor: User, key: str, from_version: int, to_version: int) -> ToMap:
    """The older version's user tasks the target removed, renamed or made another kind of element: an item waiting
    at one of them moves only with a mapping to one of the target's user tasks."""
    permissions.require_version_keeper(actor)
    source = _version(session, key, from_version, "from_version")
    target = _version(session, key, to_version, "to_version")
    targets = {element: spec["title"] for element, spec in target.model["tasks"].items()}
    missing = {element: spec["title"] for element, spec in source.model["tasks"].items() if element not in targets}
    renamed: dict[str, str] = {}
    if missing:
        changed = diff.compare(source, target).changed
        renamed = {c.before: c.after for e in changed for c in e.changes if c.aspect == Aspect.ID}
    steps = tuple(
        Unmapped(element, title, renamed[element] if renamed.get(element) in targets else None)
        for element, title in missing.items()
    )
    return ToMap(steps, targets)


def _report(
    item: Item, version: int, outcome: str, result: migration.Outcome | None = None, session: Session | None = None
) -> dict[str, Any]:
    called = [session.get_one(ProcessDefinition, found) for found in result.called] if result and session else []
    return {
        "item": item.id,
        "title": item.title,
        "from_version": version,
        "outcome": outcome,
        "moved": [{"from": old, "to": new} for old, new in (result.moved if result else [])],
        "dropped": list(result.dropped) if result else [],
        "armed": list(result.armed) if result else [],
        "blockers": [{"element": b.element, "message": b.message} for b in (result.blockers if result else [])],
        # The processes call activities called, running inside the item: they stay on their version.
        "called": [{"key": found.key, "version": found.version} for found in called],
    }


def _blocked(item: Item, version: int, element: str, message: str) -> dict[str, Any]:
    return _report(item, version, "blocked", migration.Outcome(blockers=[migration.Blocker(element, message)]))


def _try(session: Session, item: Item, target: _Target, mapping: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """Move the item's workflow in memory and check the result loads on the target: (report, engine run or None)."""
    source = session.get_one(ProcessDefinition, item.definition_id)
    if item.closed_at is not None:
        return _blocked(item, source.version, "", "事项已办结或撤销 The item is closed or withdrawn"), None
    if source.id == target.definition.id:
        return _report(item, source.version, "unchanged"), None
    state = session.get_one(Instance, item.id)
    spiff = restore(source, state)
    result = migration.migrate(spiff, target.spec, target.subprocess_specs, mapping)
    if result.blockers:
        return _report(item, source.version, "blocked", result, session), None
    try:
        run = run_engine(spiff, decisions=Deployed(session, target.definition.model))
    except StateTooLarge as exc:
        return _blocked(item, source.version, "", exc.detail), None
    # What is stored must load again on the target before anything is written.
    version, text = dump(spiff)
    restore(target.definition, Instance(item_id=item.id, serializer_version=version, state=text, data={}))
    return _report(item, source.version, "moves", result, session), (spiff, run)


def dry_run(session: Session, actor: User, key: str, ask: Ask) -> list[dict[str, Any]]:
    """Item by item, what confirming ``ask`` would do and what blocks it; nothing is written."""
    permissions.require_version_keeper(actor)
    target = _target(session, key, ask)
    items = _selected(session, key, ask, target)
    _check_mapping(session, ask, target, items)
    return [_try(session, item, target, ask.mapping)[0] for item in items]


def request(session: Session, actor: User, key: str, ask: Ask, remote_addr: str | None = None) -> ProcessMigration:
    """Ask for the move; it waits for another person's confirmation. Its report is the dry run at the time of asking."""
    report = dry_run(session, actor, key, ask)
    asked = ProcessMigration(
        key=key,
        target_id=deploy.get(session, key, ask.to_version).id,
        mapping=dict(ask.mapping),
        selection={"from_version": ask.from_version} if ask.from_version is not None else {"items": sorted(ask.items)},
        note=deploy.check_note(ask.note),
        state="requested",
        requested_by=actor,
        report=report,
    )
    session.add(asked)
    session.flush()
    detail = {"to_version": ask.to_version, "selection": asked.selection, "mapping": asked.mapping}
    target = f"migration {asked.id} ({key})"
    admin_log.record(session, actor.username, "migration.request", target, remote_addr, **detail)
    return asked


def get(session: Session, actor: User, key: str, migration_id: int) -> ProcessMigration:
    permissions.require_migration_reader(actor)
    found = session.get(ProcessMigration, migration_id)
    if found is None or found.key != key:
        raise NotFound(f"迁移不存在 No migration {migration_id} of process {key!r}")
    return found


def listed(session: Session, actor: User, key: str) -> list[ProcessMigration]:
    permissions.require_migration_reader(actor)
    query = select(ProcessMigration).where(ProcessMigration.key == key).order_by(ProcessMigration.id.desc())
    return list(session.scalars(query))


def awaiting(session: Session, actor: User) -> list[tuple[str, int]]:
    """Per process, how many migrations wait for this person's confirmation (those another person asked for)."""
    try:
        permissions.require_migration_confirmer(actor)
    except Forbidden:
        return []
    query = (
        select(ProcessMigration.key, func.count())
        .where(ProcessMigration.state == "requested", ProcessMigration.requested_by_id != actor.id)
        .group_by(ProcessMigration.key)
        .order_by(ProcessMigration.key)
    )
    return [(key, count) for key, count in session.execute(query)]


def _decide(session: Session, actor: User, key: str, migration_id: int) -> ProcessMigration:
    asked = get(session, actor, key, migration_id)
    if asked.state != "requested":
        said = _DECIDED[asked.state]
        raise AlreadyDecided(f"迁移 {migration_id} 已{said} Migration {migration_id} is already {asked.state}")
    return asked


_DECIDED = {"running": "确认", "done": "执行", "declined": "驳回"}
MIGRATION_JOB = "migration"
# Items moved per transaction by the worker: a batch holds SQLite's write lock for about a second.
BATCH = 50


def _ask_of(asked: ProcessMigration) -> Ask:
    selection = asked.selection
    return Ask(
        to_version=asked.target.version,
        mapping=asked.mapping,
        from_version=selection.get("from_version"),
        items=tuple(selection.get("items", ())),
    )


def confirm(
    session: Session, actor: User, key: str, migration_id: int, remote_addr: str | None = None
) -> ProcessMigration:
    """The second person's word: the items move from now on, a batch per transaction, by the worker.

    Moving thousands of items in one transaction would hold every one of them (and, on SQLite, every
    writer) for minutes; batches keep each item's move atomic and the rest of the office working.
    """
    permissions.require_migration_confirmer(actor)
    asked = _decide(session, actor, key, migration_id)
    if asked.requested_by_id == actor.id:
        raise Forbidden("迁移须由另一人确认 A migration is confirmed by someone other than who asked for it")
    ask = _ask_of(asked)
    target = _target(session, key, ask)
    planned = len(_selected(session, key, ask, target))
    asked.state, asked.decided_by, asked.decided_at, asked.report = "running", actor, utcnow(), []
    session.add(Job(kind=MIGRATION_JOB, due_at=utcnow(), payload={"migration": asked.id, "after": 0}))
    target_name = f"migration {asked.id} ({key})"
    admin_log.record(
        session, actor.username, "migration.confirm", target_name, remote_addr, to_version=ask.to_version, items=planned
    )
    return asked


def run_batch(session: Session, payload: dict[str, Any], size: int = BATCH) -> dict[str, Any] | None:
    """The worker's job: move the next ``size`` items of a confirmed migration, each all or nothing.

    Returns the job's next payload, or None once every item has had its turn (the migration is then done).
    """
    asked = session.get_one(ProcessMigration, payload["migration"])
    ask = _ask_of(asked)
    # Checked when confirmed: a version retired since then still takes the items the people agreed to move.
    target = _loaded(asked.target)
    query = select(Item.id).where(Item.id > payload["after"])
    if ask.from_version is not None:
        source = deploy.get(session, asked.key, ask.from_version)
        query = query.where(Item.definition_id == source.id, Item.closed_at.is_(None))
    else:
        query = query.where(Item.id.in_(ask.items))
    batch = list(session.scalars(query.order_by(Item.id).limit(size)))
    asked.report = [*asked.report, *(_move(session, item_id, target, asked) for item_id in batch)]
    if len(batch) == size:
        return {**payload, "after": batch[-1]}
    asked.state = "done"
    outcomes = [row["outcome"] for row in asked.report]
    admin_log.record(
        session,
        None,
        "migration.done",
        f"migration {asked.id} ({asked.key})",
        moved=outcomes.count("moved"),
        blocked=[row["item"] for row in asked.report if row["outcome"] == "blocked"],
    )
    return None


def decline(
    session: Session, actor: User, key: str, migration_id: int, remote_addr: str | None = None
) -> ProcessMigration:
    """Drop the request: by a person who could confirm it, or by the one who asked."""
    asked = _decide(session, actor, key, migration_id)
    if asked.requested_by_id != actor.id:
        permissions.require_migration_confirmer(actor)
    asked.state, asked.decided_by, asked.decided_at = "declined", actor, utcnow()
    admin_log.record(session, actor.username, "migration.decline", f"migration {asked.id} ({key})", remote_addr)
    return asked


def _move(session: Session, item_id: int, target: _Target, asked: ProcessMigration) -> dict[str, Any]:
    """Move one item in a savepoint of its own: all of it, or (reported) none of it; the confirmer is its actor."""
    actor = asked.decided_by
    assert actor is not None  # confirmed
    with session.begin_nested() as savepoint:
        item = workflow.lock_item(session, item_id)
        report, moved = _try(session, item, target, asked.mapping)
        if moved is None:
            savepoint.rollback()
            return report
        spiff, run = moved
        source = session.get_one(ProcessDefinition, item.definition_id)
        _follow_steps(session, item, source, target.definition, spiff, report["moved"])
        item.definition_id = target.definition.id
        status_from = item.status
        instance = session.get_one(Instance, item.id)
        new_tasks = workflow.store_state(session, item, instance, target.definition, spiff, run, actor)
        history.record(
            session,
            item,
            actor=actor.username,
            action="migrated",
            status_from=status_from,
            status_to=item.status,
            data={
                "migration": asked.id,
                "from": {"key": source.key, "version": source.version},
                "to": {"key": target.definition.key, "version": target.definition.version},
                "mapping": {old: new for old, new in asked.mapping.items() if old != new},
                "requested_by": asked.requested_by.username,
                "moved": report["moved"],
                "dropped": report["dropped"],
                "armed": report["armed"],
            },
        )
        workflow.finish_run(session, item, target.definition, run, new_tasks, status_from)
    return {**report, "outcome": "moved"}


def _follow_steps(
    session: Session,
    item: Item,
    source: ProcessDefinition,
    target: ProcessDefinition,
    spiff: Any,
    moved: list[dict[str, str]],
) -> None:
    """Waiting task rows follow their step to the target: its id, title and lane, and its people if the rule changed."""
    step_of = {row["from"]: row["to"] for row in moved}
    steps = target.model["tasks"]
    rows = session.scalars(select(Task).where(Task.item_id == item.id, Task.state.in_(("ready", "waiting"))))
    for row in rows:
        if row.definition_id is not None:
            continue  # a step of a called process, which stays on its version
        new = step_of.get(row.name)
        live = find_task(spiff, row.spiff_id)
        if new is None or new not in steps or live is None:
            continue  # the step is gone: storing the state cancels the row
        spec = steps[new]
        was = source.model["tasks"].get(row.name, {})
        if (spec["candidates"], spec.get("people")) != (was.get("candidates"), was.get("people")):
            context = assignment.Context(session, item, live.data, None, named_people(live))
            assignment.apply(row, assignment.for_step(spec, context))
        row.name, row.title, row.lane = new, spec["title"], spec["lane"]
