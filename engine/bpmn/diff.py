"""Two deployed versions of one process, compared element by element: what a designer's new version changes.

Two layers. SpiffWorkflow's ``SpecDiff`` compares the executable specs: it pairs an element whose id
changed with its new self (by where it sits between the others) and notices any executable change.
The product's own layer says *what* changed in people's terms, from the diagram and the stored model:
names, statuses, lanes and who may act, forms field by field, timers, flows and their conditions.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.util.diff import SpecDiff

from engine.bpmn import people
from engine.bpmn.aspects import REFERENCES, Aspect, Change
from engine.bpmn.builder import serializer
from engine.bpmn.document import executable_process, local, parse_xml
from engine.bpmn.form_diff import form_changes
from engine.bpmn.model import NS, properties
from engine.store.models import ProcessDefinition

_FLOW_NODES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
_ELEMENTS = _FLOW_NODES | {"sequenceFlow", "lane"}
# A new way *into* a step does not change what happens to an item already waiting there.
_NOT_FOR_WAITING = frozenset({Aspect.INCOMING})
# Spec attributes the aspects already say in people's words (or that name other specs, which an id change renames).
_SPOKEN = frozenset(
    {
        "name",
        "bpmn_id",
        "bpmn_name",
        "description",
        "documentation",
        "typename",
        "lane",
        "extensions",
        "form",
        "script",
        "cancel_activity",
        "inputs",
        "outputs",
        "cond_task_specs",
        "default_task_spec",
        "task_spec",
        "lookahead",
        "manual",
    }
)
# An event's name and timer expression are aspects of their own; the rest of its definition is not.
_SPOKEN_EVENT = frozenset({"name", "expression"})


@dataclass(frozen=True)
class Element:
    id: str
    type: str
    name: str


@dataclass(frozen=True)
class ChangedElement(Element):
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Reason:
    """Why an item waiting at a step is concerned: that step, or a timer on it, was removed or changed."""

    element: str
    name: str
    removed: bool
    aspects: tuple[Aspect, ...]


@dataclass(frozen=True)
class VersionDiff:
    key: str
    before: int
    after: int
    added: tuple[Element, ...]
    removed: tuple[Element, ...]
    changed: tuple[ChangedElement, ...]
    # For each user task of the older version: the removals and changes an item waiting there is concerned by.
    reasons: dict[str, tuple[Reason, ...]] = field(repr=False)
    # Every element's name in either version (the newer one's if both), for aspects that name other elements.
    names: dict[str, str] = field(repr=False)


class _Version:
    """One version's diagram and model, indexed for comparison."""

    def __init__(self, definition: ProcessDefinition) -> None:
        self.model = definition.model
        self.process = executable_process(parse_xml(definition.bpmn_xml.encode()))
        self.nodes = {
            node.get("id", ""): node
            for node in self.process.iter(f"{{{NS['bpmn']}}}*")
            if node.get("id") and local(node) in _ELEMENTS
        }
        self.flows = [
            (node.get("sourceRef", ""), node.get("targetRef", ""))
            for node in self.nodes.values()
            if local(node) == "sequenceFlow"
        ]
        self.boundaries: dict[str, list[str]] = {}
        for element, node in self.nodes.items():
            if local(node) == "boundaryEvent":
                self.boundaries.setdefault(node.get("attachedToRef", ""), []).append(element)

    def element(self, element: str) -> Element:
        node = self.nodes[element]
        return Element(element, local(node), node.get("name") or "")

    def aspects(self, element: str) -> dict[Aspect, Any]:
        node = self.nodes[element]
        kind = local(node)
        if kind == "sequenceFlow":
            found = {
                Aspect.SOURCE: node.get("sourceRef"),
                Aspect.TARGET: node.get("targetRef"),
                Aspect.CONDITION: _text(node, "./bpmn:conditionExpression"),
            }
        elif kind == "lane":
            found = {Aspect.CANDIDATES: properties(node).get("candidates", element)}
        else:
            found = self._node_aspects(element, node)
        return {Aspect.NAME: node.get("name") or None, **found}

    def _node_aspects(self, element: str, node: etree._Element) -> dict[Aspect, Any]:
        status = self.model.get("statuses", {}).get(element, {})
        task = self.model.get("tasks", {}).get(element, {})
        timer = node.xpath("./bpmn:timerEventDefinition/*", namespaces=NS)
        loop = node.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)
        return {
            Aspect.STATUS: status.get("status"),
            Aspect.STATUS_LABEL: status.get("label"),
            Aspect.ESCALATION: self.model.get("escalations", {}).get(element, {}).get("kind"),
            Aspect.LANE: task.get("lane"),
            Aspect.CANDIDATES: people.describe(task["people"]) if task.get("people") else task.get("candidates"),
            Aspect.FORM_KEY: task.get("form_key"),
            Aspect.MULTI_INSTANCE: (
                ("sequential" if loop[0].get("isSequential") == "true" else "parallel") if loop else None
            ),
            Aspect.TIMER_KIND: local(timer[0]) if timer else None,
            Aspect.TIMER: (timer[0].text or "").strip() if timer else None,
            Aspect.ATTACHED_TO: node.get("attachedToRef"),
            Aspect.INTERRUPTING: node.get("cancelActivity") != "false" if local(node) == "boundaryEvent" else None,
            Aspect.SCRIPT: _text(node, "./bpmn:script"),
            Aspect.DEFAULT_FLOW: node.get("default"),
            Aspect.OUTGOING: sorted(target for source, target in self.flows if source == element) or None,
            Aspect.INCOMING: sorted(source for source, target in self.flows if target == element) or None,
        }

    def form(self, element: str) -> dict[str, Any] | None:
        form: dict[str, Any] | None = self.model.get("tasks", {}).get(element, {}).get("form")
        return form

    def concerning(self, element: str) -> list[str]:
        """The elements whose changes touch an item waiting at ``element``: it, its enclosing sub-processes,
        the boundary events (deadline timers) attached to any of them, and the event sub-processes (deadline
        watches) of the processes around it, with what they hold."""
        node: etree._Element | None = self.nodes[element]
        found, containers = [], []
        while node is not None:
            if node is not self.process and node.get("id") in self.nodes:
                found.append(node.get("id", ""))
            if local(node) in ("subProcess", "process"):
                containers.append(node)
            if node is self.process:
                break
            node = node.getparent()
        watching = [
            inner.get("id", "")
            for container in containers
            for watch in container.xpath("./bpmn:subProcess[@triggeredByEvent='true']", namespaces=NS)
            for inner in watch.iter(f"{{{NS['bpmn']}}}*")
            if inner.get("id") in self.nodes and inner.get("id") not in found
        ]
        return [*found, *(event for host in found for event in self.boundaries.get(host, [])), *watching]


def _text(node: etree._Element, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    return (found[0].text or "").strip() if found else None


def _specs(definition: ProcessDefinition) -> dict[str, Any]:
    ser = serializer()
    stored = json.loads(definition.specs)
    return {
        "": ser.from_dict(stored["spec"]),
        **{name: ser.from_dict(sub) for name, sub in stored["subprocess_specs"].items()},
    }


def _unspoken(registry: Any, spec: Any, candidate: Any, keys: list[str]) -> set[str]:
    """The changed spec attributes no aspect describes."""
    left = set(keys) - _SPOKEN
    if "event_definition" in left:
        before, after = registry.convert(spec)["event_definition"], registry.convert(candidate)["event_definition"]
        if {k: v for k, v in before.items() if k not in _SPOKEN_EVENT} == {
            k: v for k, v in after.items() if k not in _SPOKEN_EVENT
        }:
            left.remove("event_definition")
    return left


def _spec_diff(before: ProcessDefinition, after: ProcessDefinition) -> tuple[dict[str, str], dict[str, set[str]]]:
    """SpiffWorkflow's reading: (old id → new id for elements it pairs across an id change,
    old id → the changed spec attributes that no aspect describes)."""
    registry = serializer().registry
    old, new = _specs(before), _specs(after)
    renamed: dict[str, str] = {}
    changed: dict[str, set[str]] = {}
    for name in old.keys() & new.keys():
        diff = SpecDiff(registry, old[name], new[name])
        for spec, candidate in diff.alignment.items():
            bpmn_id = getattr(spec, "bpmn_id", None)
            if bpmn_id and candidate is not None and candidate.bpmn_id and candidate.bpmn_id != bpmn_id:
                renamed[bpmn_id] = candidate.bpmn_id
        for spec, keys in diff.changed.items():
            if getattr(spec, "bpmn_id", None):
                unspoken = _unspoken(registry, spec, diff.alignment[spec], keys)
                changed.setdefault(spec.bpmn_id, set()).update(unspoken)
    return renamed, changed


def _renamed(value: Any, pairs: dict[str, str]) -> Any:
    if isinstance(value, list):
        return sorted(pairs.get(element, element) for element in value)
    return pairs.get(value, value) if isinstance(value, str) else value


def _changes(
    old: _Version, new: _Version, was: str, now: str, pairs: dict[str, str], spec_keys: set[str]
) -> list[Change]:
    changes = [Change(Aspect.ID, was, now)] if was != now else []
    old_type, new_type = local(old.nodes[was]), local(new.nodes[now])
    if old_type != new_type:
        changes.append(Change(Aspect.TYPE, old_type, new_type))
    before, after = old.aspects(was), new.aspects(now)
    changes += [
        Change(aspect, before[aspect], value)
        for aspect, value in after.items()
        if (_renamed(before[aspect], pairs) if aspect in REFERENCES else before[aspect]) != value
    ]
    changes += form_changes(old.form(was), new.form(now))
    if spec_keys:
        # The executable spec differs in a way the aspects do not cover (loop settings, ...): say so, not nothing.
        changes.append(Change(Aspect.EXECUTION, None, sorted(spec_keys)))
    return changes


def compare(before: ProcessDefinition, after: ProcessDefinition) -> VersionDiff:
    """What ``after`` adds, removes and changes relative to ``before`` (two versions of one process)."""
    old, new = _Version(before), _Version(after)
    renamed, spec_changed = _spec_diff(before, after)
    # Only an id that disappeared may be paired with one that appeared, and with that one alone.
    claimed = Counter(renamed.values())
    pairs = {
        was: now for was, now in renamed.items() if was not in new.nodes and now not in old.nodes and claimed[now] == 1
    }
    pairs |= {element: element for element in old.nodes if element in new.nodes}
    paired_new = dict(zip(pairs.values(), pairs.keys(), strict=True))
    added, changed = [], []
    changed_by_old: dict[str, ChangedElement] = {}
    for now in new.nodes:
        was = paired_new.get(now)
        if was is None:
            added.append(new.element(now))
            continue
        changes = _changes(old, new, was, now, pairs, spec_changed.get(was, set()))
        if changes:
            element = new.element(now)
            changed_by_old[was] = ChangedElement(element.id, element.type, element.name, tuple(changes))
            changed.append(changed_by_old[was])
    removed = [old.element(element) for element in old.nodes if element not in pairs]
    return VersionDiff(
        key=before.key,
        before=before.version,
        after=after.version,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        reasons=_reasons(old, {element.id for element in removed}, changed_by_old),
        names={element: node.get("name") or element for element, node in (old.nodes | new.nodes).items()},
    )


def _reasons(old: _Version, removed: set[str], changed: dict[str, ChangedElement]) -> dict[str, tuple[Reason, ...]]:
    def reason(element: str) -> Reason | None:
        name = old.nodes[element].get("name") or element
        if element in removed:
            return Reason(element, name, True, ())
        changes = changed[element].changes if element in changed else ()
        aspects = tuple(dict.fromkeys(c.aspect for c in changes if c.aspect not in _NOT_FOR_WAITING))
        return Reason(element, name, False, aspects) if aspects else None

    found = {}
    for waiting, node in old.nodes.items():
        if local(node) == "userTask":  # where items wait (the product's tasks)
            reasons = [r for r in map(reason, old.concerning(waiting)) if r is not None]
            if reasons:
                found[waiting] = tuple(reasons)
    return found
