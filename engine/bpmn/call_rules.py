"""What a call activity may declare, and the deployed processes it calls (``engine.bpmn.calls``).

Read from the file alone (``check_calls``, run by the structural checks): a ``calledElement`` is
named; the binding is ``latest`` (the default), ``version`` with a positive ``calledElementVersion``,
or ``deployment``, which calls a process of the same file; a process of the file calls neither
itself nor, through others of the file, back. Read against what is deployed (``check_deployed``,
run by deploy and the lint API): a key called outside the file is deployed (a version bound that is
not deployed yet is only a warning) and calling it does not lead back to the process being deployed.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from engine.bpmn.builder import BPMN_NS, camunda_attribute
from engine.bpmn.calls import BINDING, DEPLOYMENT, LATEST, VERSION, VERSION_BINDING, Library, Unresolved, binding
from engine.bpmn.document import describe
from engine.bpmn.findings import Findings, Problem
from engine.bpmn.model import NS

_CALL = f"{{{BPMN_NS}}}callActivity"
# The model's mark of a process that only runs when called (``camunda:isStartableInTasklist="false"``).
CALLED_ONLY = "called_only"


def _processes(root: etree._Element) -> dict[str, etree._Element]:
    return {node.get("id", ""): node for node in root.xpath("./bpmn:process", namespaces=NS)}


def _check_binding(call: etree._Element, in_file: bool, findings: Findings) -> None:
    element, called = call.get("id", ""), call.get("calledElement", "")
    kind, version = binding(call, camunda_attribute)
    if kind not in (LATEST, VERSION_BINDING, DEPLOYMENT):
        findings.error(
            "call-binding",
            element,
            f"不支持的调用绑定 {describe(call)} has camunda:{BINDING}={kind!r}: use latest, version or deployment",
        )
    elif kind == VERSION_BINDING and not (version.isdigit() and int(version) > 0):
        findings.error(
            "call-binding",
            element,
            f"调用版本无效 {describe(call)} binds to a version: camunda:{VERSION} must be a positive whole "
            f"number (it is {version!r})",
        )
    elif kind != VERSION_BINDING and version:
        findings.error(
            "call-binding",
            element,
            f"调用版本多余 {describe(call)} names camunda:{VERSION} with binding {kind!r}: use binding 'version'",
        )
    elif kind == DEPLOYMENT and not in_file:
        findings.error(
            "call-binding",
            element,
            f"调用的流程不在本文件 {describe(call)} binds to its deployment, but process {called!r} is not in this "
            "file: remove the binding to call its latest deployed version",
        )
    elif kind == VERSION_BINDING and in_file:
        findings.error(
            "call-binding",
            element,
            f"本文件的流程随文件部署 {describe(call)} calls process {called!r} of this file, which is deployed "
            "with it: remove the version binding",
        )


def _in_file_cycle(processes: dict[str, etree._Element], start: str) -> list[str] | None:
    """A chain of calls among the file's processes from ``start`` back to it, if any."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        current, path = stack.pop()
        for call in processes[current].iter(_CALL):
            called = call.get("calledElement", "")
            if called == start:
                return [*path, called]
            if called in processes and called not in seen:
                seen.add(called)
                stack.append((called, [*path, called]))
    return None


def check_calls(root: etree._Element, findings: Findings) -> None:
    """Every call activity of the file (the called processes of the file run too) declares a call it can make."""
    processes = _processes(root)
    for call in root.iter(_CALL):
        element, called = call.get("id", ""), (call.get("calledElement") or "").strip()
        if not called:
            findings.error(
                "call-element-missing",
                element,
                f"调用活动未指定流程 {describe(call)} has no calledElement: name the key of the process it calls",
            )
            continue
        _check_binding(call, called in processes, findings)
    in_cycles: set[str] = set()
    for key in processes:
        cycle = None if key in in_cycles else _in_file_cycle(processes, key)
        if cycle is not None:  # reported once, by its first process
            in_cycles.update(cycle)
            chain = " → ".join(cycle)
            findings.error("call-recursive", key, f"递归调用 Process {key!r} calls itself: {chain}")


def called_only(process: etree._Element) -> bool:
    """Whether the process is only a stage other processes call: no item starts on it by itself."""
    return camunda_attribute(process, "isStartableInTasklist").lower() == "false"


def deployed_calls(root: etree._Element) -> dict[str, dict[str, Any]]:
    """Each call activity calling a process outside the file: element → {"key", "version" (None: latest)}."""
    processes = _processes(root)
    found = {}
    for call in root.iter(_CALL):
        called = (call.get("calledElement") or "").strip()
        if called and called not in processes:
            version = binding(call, camunda_attribute)[1]
            found[call.get("id", "")] = {"key": called, "version": int(version) if version.isdigit() else None}
    return found


def _leads_back(library: Library, key: str, calls: dict[str, dict[str, Any]], chain: list[str]) -> list[str] | None:
    """The chain of keys by which one of ``calls`` (as deployed now) calls ``key`` again, if any."""
    for call in calls.values():
        if call["key"] == key:
            return [*chain, key]
        if call["key"] in chain:
            continue
        try:
            called = library.resolve(call["key"], call["version"])
        except Unresolved:
            continue
        found = _leads_back(library, key, called.model.get("calls", {}), [*chain, call["key"]])
        if found is not None:
            return found
    return None


def _any_version(library: Library, key: str) -> bool:
    try:
        library.resolve(key, None)
    except Unresolved:
        return False
    return True


def check_deployed(session: Session, key: str, model: dict[str, Any]) -> list[Problem]:
    """The deployed processes the diagram ``key`` calls: each deployed, none calling ``key`` back."""
    findings = Findings()
    library = Library(session)
    for element, call in model.get("calls", {}).items():
        try:
            library.resolve(call["key"], call["version"])
        except Unresolved:
            if call["version"] is None or not _any_version(library, call["key"]):
                findings.error(
                    "call-not-deployed",
                    element,
                    f"调用的流程未部署 Call activity {element!r} calls process {call['key']!r}, of which no version "
                    "is deployed: deploy it first (bundled processes deploy in that order by themselves)",
                )
            else:
                # Pinning the version about to be deployed is a rollout order: items reaching the call wait,
                # as an incident, until it is deployed and the incident retried.
                findings.warning(
                    "call-version-not-deployed",
                    element,
                    f"调用的版本尚未部署 Call activity {element!r} calls version {call['version']} of process "
                    f"{call['key']!r}, which is not deployed yet: items reaching it stop with an incident until it is",
                )
            continue
        chain = _leads_back(library, key, {element: call}, [key])
        if chain is not None:
            findings.error(
                "call-recursive",
                element,
                f"递归调用 Call activity {element!r} leads back to process {key!r}: {' → '.join(chain)}",
            )
    return findings.problems
