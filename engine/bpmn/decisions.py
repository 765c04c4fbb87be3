"""Deployed DMN decisions: versions per decision key, deployed alone or in a process bundle, and resolved
for the business rule tasks of a run (``Deployed``).

Deploying mirrors processes (``engine.bpmn.deploy``): a new version unless the file repeats the latest
version of that key. A version is immutable, so its parsed table is cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn import dmn, next_version
from engine.bpmn.builder import script_engine
from engine.bpmn.business_rules import DEPLOYMENT, MODEL_KEY, VERSION, DecisionRef, sandboxed
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import Decision, ProcessDefinition

_MAX_CACHED = 512
# By decision key and file hash: what a table is follows from these alone, whichever version or database holds it.
_tables: dict[tuple[str, str], dmn.Table] = {}


def table_of(decision: Decision) -> dmn.Table:
    """The version's parsed table (it parsed when it was deployed)."""
    found = _tables.get((decision.key, decision.sha256))
    if found is None:
        if len(_tables) >= _MAX_CACHED:
            _tables.clear()
        tables = dmn.parse(decision.dmn_xml.encode("utf-8"))
        found = _tables[(decision.key, decision.sha256)] = next(t for t in tables if t.key == decision.key)
    return found


def _latest(session: Session, key: str) -> Decision | None:
    query = select(Decision).where(Decision.key == key).order_by(Decision.version.desc()).limit(1)
    return session.scalar(query)


def _store(
    session: Session, table: dmn.Table, xml: str, sha256: str, actor: str | None, process: ProcessDefinition | None
) -> tuple[Decision, bool]:
    def new(version: int) -> Decision:
        return Decision(
            key=table.key,
            version=version,
            name=table.name,
            hit_policy=table.hit_policy,
            dmn_xml=xml,
            sha256=sha256,
            deployed_by=actor,
            process_definition=process,
        )

    decision, created = next_version.store(
        session,
        lambda: _latest(session, table.key),
        lambda current: current.sha256 == sha256,
        new,
        f"decision {table.key!r}",
    )
    if created:
        _tables[(decision.key, sha256)] = table
    return decision, created


def deploy(
    session: Session, content: bytes, actor: str | None, process: ProcessDefinition | None = None
) -> list[tuple[Decision, bool]]:
    """Deploy each decision of a DMN file: a new version unless the file repeats that key's latest version.

    Refused (``InvalidDiagram``, every problem naming its element) when any decision of it cannot be used.
    """
    tables = dmn.parse(content)
    xml, sha256 = content.decode("utf-8"), dmn.digest(content)
    return [_store(session, table, xml, sha256, actor, process) for table in tables]


def deploy_bundled(
    session: Session, files: Mapping[str, bytes], actor: str | None, process: ProcessDefinition | None
) -> list[tuple[Decision, bool]]:
    """The DMN files of a process's bundle (checked by its lint); new versions are marked as brought by ``process``
    (None: the process version was not new, the bundle only repeats it)."""
    return [found for name in sorted(files) for found in deploy(session, files[name], actor, process)]


def bundled_files(session: Session, model: Mapping[str, Any]) -> dict[str, bytes]:
    """The DMN files a process version's bundle brought (its ``model``), by file name, byte for byte."""
    files: dict[str, bytes] = {}
    for entry in (model.get(MODEL_KEY) or {}).values():
        found = session.scalar(select(Decision).where(Decision.sha256 == entry["sha256"]).limit(1))
        if found is not None:
            files[entry["file"]] = found.dmn_xml.encode("utf-8")
    return files


def _missing(key: str, what: str = "") -> NotFound:
    message = f"未部署的决策 No decision {key!r}{what} is deployed"
    return NotFound(message, errors=[{"field": "key", "message": message}])


def latest(session: Session, key: str) -> Decision:
    decision = _latest(session, key)
    if decision is None:
        raise _missing(key)
    return decision


def get(session: Session, key: str, version: int) -> Decision:
    decision = session.scalar(select(Decision).where(Decision.key == key, Decision.version == version))
    if decision is None:
        message = f"决策 {key!r} 没有第 {version} 版 No decision {key!r} version {version}"
        raise NotFound(message, errors=[{"field": "version", "message": message}])
    return decision


def versions_of(session: Session, key: str) -> list[Decision]:
    """Every version of decision ``key``, oldest first."""
    found = list(session.scalars(select(Decision).where(Decision.key == key).order_by(Decision.version)))
    if not found:
        raise _missing(key)
    return found


def latest_of_each(session: Session) -> list[Decision]:
    newest = select(Decision.key, func.max(Decision.version).label("version")).group_by(Decision.key).subquery()
    query = select(Decision).join(newest, (Decision.key == newest.c.key) & (Decision.version == newest.c.version))
    return list(session.scalars(query.order_by(Decision.key)))


class DeployedKeys:
    """The keys of the deployed decisions, as a container: each is asked of the database when a diagram names it
    (a diagram without business rule tasks asks nothing)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __contains__(self, key: object) -> bool:
        return self.session.scalar(select(Decision.id).where(Decision.key == key).limit(1)) is not None

    def outputs(self, key: str) -> list[str]:
        """The output names of the key's latest version (none when it is not deployed): the variables it sets."""
        decision = _latest(self.session, key)
        return [] if decision is None else [column.name for column in table_of(decision).outputs]


class Deployed:
    """The deployed decisions, as the business rule tasks of one process version resolve them (``DecisionSource``)."""

    def __init__(self, session: Session, model: Mapping[str, Any]) -> None:
        self.session = session
        self.bundled: Mapping[str, dict[str, str]] = model.get(MODEL_KEY) or {}

    def table(self, ref: DecisionRef) -> tuple[int, dmn.Table]:
        if ref.binding == VERSION and ref.version is not None:
            decision = get(self.session, ref.key, ref.version)
        elif ref.binding == DEPLOYMENT:
            # The newest version with the bundle's content: the same table, whichever of them it is.
            query = select(Decision).where(
                Decision.key == ref.key, Decision.sha256 == self.bundled.get(ref.key, {}).get("sha256")
            )
            found = self.session.scalar(query.order_by(Decision.version.desc()).limit(1))
            if found is None:
                raise _missing(ref.key, " (from this process's bundle)")
            decision = found
        else:
            decision = latest(self.session, ref.key)
        return decision.version, table_of(decision)


def trial(
    session: Session, key: str, inputs: dict[str, Any], version: int | None = None, draft: str | None = None
) -> tuple[int | None, dmn.Evaluation]:
    """Evaluate decision ``key`` over ``inputs`` as a business rule task would, in the sandbox; nothing is stored.

    Its deployed ``version`` (default: the latest), or the ``draft`` DMN given (the version is then None).
    An expression that fails on these inputs is refused naming ``inputs``; a draft that does not parse, or has
    no such decision, naming ``dmn``.
    """
    if draft is not None:
        table = next((found for found in dmn.parse(draft.encode("utf-8")) if found.key == key), None)
        if table is None:
            message = f"草稿中没有决策 {key!r} The draft has no decision {key!r}"
            raise InvalidInput(message, errors=[{"field": "dmn", "message": message}])
    else:
        decision = latest(session, key) if version is None else get(session, key, version)
        version, table = decision.version, table_of(decision)
    try:
        return version, dmn.evaluate(table, inputs, sandboxed(script_engine()))
    except dmn.DecisionFailed as exc:
        raise InvalidInput(str(exc), errors=[{"field": "inputs", "message": str(exc)}]) from exc
