"""Deployment: an untrusted bundle (BPMN bytes and its forms) in, a versioned process definition row out.

A diagram is linted first (``engine.bpmn.lint``) and refused with every error found, each naming
its element, in one ``InvalidDiagram``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn import decisions, next_version
from engine.bpmn.bundle import FORMS, Bundle, digest, from_folder, to_zip
from engine.bpmn.document import executable_process, parse_xml, process_key
from engine.bpmn.findings import refusal
from engine.bpmn.lint import examine
from engine.bpmn.model import form_keys
from engine.store.errors import InvalidDiagram, InvalidInput, NotFound
from engine.store.models import ProcessDefinition, ProcessForm
from engine.store.text import unstorable

MAX_NOTE = int(ProcessDefinition.__table__.c.note.type.length)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BuiltDefinition:
    key: str
    name: str
    xml: str
    sha256: str
    specs: str
    model: dict[str, Any]
    forms: dict[str, str]


def build(bundle: Bundle, session: Session | None = None) -> BuiltDefinition:
    """Validate and parse a diagram with its forms and decisions; the database, when given, only read.

    Refused with every error the lint finds (``engine.bpmn.lint``): among them a form the diagram names
    that the bundle lacks, a form of the bundle that no user task names (most likely a misspelt key),
    and a business rule task whose decision is neither in the bundle nor deployed.
    """
    examined = examine(bundle.diagram, bundle.forms, bundle.decisions, session)
    if examined.model is None or examined.specs is None:
        raise refusal(examined.problems)
    return BuiltDefinition(
        key=examined.key,
        name=examined.name,
        xml=bundle.diagram.decode("utf-8"),
        sha256=digest(bundle.diagram, examined.schemas, bundle.decisions),
        specs=examined.specs,
        model=examined.model,
        # Checked to be UTF-8 by the lint: stored as text, given back as the same bytes.
        forms={form: bundle.forms[form].decode("utf-8") for form in examined.schemas},
    )


def check_note(note: str | None) -> str | None:
    """The change note as stored: None when blank; refused (naming ``note``) when too long or unstorable."""
    if note is None or not note.strip():
        return None
    problem = unstorable(note)
    if problem is None and len(note) > MAX_NOTE:
        problem = f"说明过长 The note is {len(note):,} characters long; at most {MAX_NOTE:,} are allowed"
    if problem is not None:
        raise InvalidInput(problem, errors=[{"field": "note", "message": problem}])
    return note


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )


def deploy(
    session: Session, bundle: Bundle, actor: str | None, note: str | None = None
) -> tuple[ProcessDefinition, bool]:
    """Store a new version, unless it would repeat the latest one (created=False, that version returned, note unused).

    "Repeat" means the same diagram, the same forms and the same DMN files: a designer who edits only a form
    or a decision table gets a new version too, and redeploying an older diagram after a newer one makes it the
    latest again.
    Two deployments of one key at once both read the same latest version: the second one's insert
    then violates the (key, version) unique constraint, is rolled back to its savepoint, and tries again.
    The bundle's DMN files are deployed with it (``engine.bpmn.decisions``), in the same transaction.
    """
    note = check_note(note)
    built = build(bundle, session)
    definition, created = _store(session, built, actor, note)
    decisions.deploy_bundled(session, bundle.decisions, actor, definition if created else None)
    return definition, created


def _store(
    session: Session, built: BuiltDefinition, actor: str | None, note: str | None
) -> tuple[ProcessDefinition, bool]:
    def new(version: int) -> ProcessDefinition:
        return ProcessDefinition(
            key=built.key,
            version=version,
            name=built.name,
            bpmn_xml=built.xml,
            sha256=built.sha256,
            specs=built.specs,
            model=built.model,
            deployed_by=actor,
            note=note,
            retired=False,
            forms=[ProcessForm(key=form, content=text) for form, text in built.forms.items()],
        )

    def repeats(current: ProcessDefinition) -> bool:
        return current.sha256 == built.sha256 and current.model == built.model

    return next_version.store(session, lambda: _latest(session, built.key), repeats, new, repr(built.key))


def deploy_bundled(session: Session, processes_path: Path) -> list[tuple[ProcessDefinition, bool]]:
    """Each ``*.bpmn`` of the folder with the forms it names from its ``forms/``, deployed as a bundle, a called
    process before the processes calling it."""
    waiting = {path: from_folder(path, processes_path / FORMS) for path in sorted(processes_path.glob("*.bpmn"))}
    deployed = {}
    # A process calling another of the folder is refused until that one is deployed: each pass deploys what it can.
    while waiting:
        refused: dict[Path, InvalidDiagram] = {}
        for path, bundle in waiting.items():
            try:
                deployed[path] = deploy(session, bundle, actor=None)
            except InvalidDiagram as exc:
                if any(error.get("code") != "call-not-deployed" for error in exc.errors):
                    raise
                refused[path] = exc
        if len(refused) == len(waiting):  # none deployed: a call of a process the folder does not hold
            raise next(iter(refused.values()))
        waiting = {path: waiting[path] for path in refused}
    return [deployed[path] for path in sorted(deployed)]


def stored_bundle(definition: ProcessDefinition) -> Bundle:
    """What was deployed as this version: ``bundle.to_zip`` of it deploys as this version again."""
    forms = {form.key: form.content.encode("utf-8") for form in definition.forms}
    session = Session.object_session(definition)
    files = decisions.bundled_files(session, definition.model) if session is not None else {}
    return Bundle(definition.bpmn_xml.encode("utf-8"), forms, files)


def as_zip(definition: ProcessDefinition) -> bytes:
    """The version's bundle as a zip (``<key>.bpmn``, ``forms/<key>.json``), the same bytes at every download."""
    return to_zip(stored_bundle(definition), f"{definition.key}.bpmn")


def with_latest_forms(session: Session, diagram: bytes, edited: Mapping[str, bytes] | None = None) -> Bundle:
    """A diagram edited in the modeler with the forms it names: the ``edited`` ones as sent, the others as its
    process's latest version has them (a form sent that no task names is kept, for the lint to refuse); and the
    DMN files of that version's bundle."""
    process = executable_process(parse_xml(diagram))
    key, _name = process_key(process)
    current = _latest(session, key)
    stored = stored_bundle(current) if current is not None else Bundle(b"")
    kept = {form: stored.forms[form] for form in form_keys(process) if form in stored.forms}
    return Bundle(diagram, kept | dict(edited or {}), stored.decisions)


def latest(session: Session, key: str) -> ProcessDefinition:
    definition = _latest(session, key)
    if definition is None:
        raise NotFound(
            f"未部署的流程 No process deployed with key {key!r}",
            errors=[{"field": "process", "message": f"未部署的流程 No process deployed with key {key!r}"}],
        )
    return definition


def get(session: Session, key: str, version: int) -> ProcessDefinition:
    definition = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    )
    if definition is None:
        raise NotFound(f"流程 {key!r} 没有第 {version} 版 No process {key!r} version {version}")
    return definition


def versions_of(session: Session, key: str) -> list[ProcessDefinition]:
    """Every deployed version of process ``key``, oldest first."""
    query = select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version)
    found = list(session.scalars(query))
    if not found:
        raise NotFound(f"未部署的流程 No process deployed with key {key!r}")
    return found


def all_definitions(session: Session) -> list[ProcessDefinition]:
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))
