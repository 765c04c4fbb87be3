"""Deployment: untrusted BPMN bytes in, a versioned process definition row out.

A diagram is linted first (``engine.bpmn.lint``) and refused with every error found, each naming
its element, in one ``InvalidDiagram``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.bpmn.findings import refusal
from engine.bpmn.forms_folder import read_forms
from engine.bpmn.lint import examine
from engine.store.errors import NotFound
from engine.store.models import ProcessDefinition


@dataclass(frozen=True)
class BuiltDefinition:
    key: str
    name: str
    xml: str
    sha256: str
    specs: str
    model: dict[str, Any]


def build(content: bytes, forms_path: Path) -> BuiltDefinition:
    """Validate and parse a diagram without touching the database; refused with every error the lint finds."""
    examined = examine(content, read_forms(forms_path))
    if examined.model is None or examined.specs is None:
        raise refusal(examined.problems)
    return BuiltDefinition(
        key=examined.key,
        name=examined.name,
        xml=content.decode("utf-8"),
        sha256=hashlib.sha256(content).hexdigest(),
        specs=examined.specs,
        model=examined.model,
    )


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )


def deploy(session: Session, content: bytes, forms_path: Path, actor: str | None) -> tuple[ProcessDefinition, bool]:
    """Store a new version, unless it would repeat the latest one (created=False, that version returned).

    "Repeat" means the same XML and the same forms: a designer who edits only a form file gets a new
    version too, and redeploying an older diagram after a newer one makes it the latest again.
    Two deployments of one key at once both read the same latest version: the second one's insert
    then violates the (key, version) unique constraint, is rolled back to its savepoint, and tries again.
    """
    built = build(content, forms_path)
    for _attempt in range(50):  # each retry follows another deployment's commit: progress is certain
        current = _latest(session, built.key)
        if current is not None and current.sha256 == built.sha256 and current.model == built.model:
            return current, False
        definition = ProcessDefinition(
            key=built.key,
            version=(current.version if current else 0) + 1,
            name=built.name,
            bpmn_xml=built.xml,
            sha256=built.sha256,
            specs=built.specs,
            model=built.model,
            deployed_by=actor,
        )
        try:
            with session.begin_nested():
                session.add(definition)
        except IntegrityError:
            continue
        return definition, True
    raise RuntimeError(f"could not store a new version of {built.key!r}: too many concurrent deployments")


def deploy_bundled(session: Session, processes_path: Path) -> list[tuple[ProcessDefinition, bool]]:
    return [
        deploy(session, path.read_bytes(), processes_path / "forms", actor=None)
        for path in sorted(processes_path.glob("*.bpmn"))
    ]


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


def all_definitions(session: Session) -> list[ProcessDefinition]:
    return list(session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)))
