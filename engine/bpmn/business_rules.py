"""Business rule tasks (``camunda:decisionRef``): a deployed DMN decision, chosen when the task runs, evaluated.

Camunda's binding says which version: ``camunda:decisionRefBinding="latest"`` (the default: the latest
deployed when the task runs), ``"deployment"`` (the one deployed in the process's bundle) or
``"version"`` with ``camunda:decisionRefVersion="N"``. So the spec stores the reference, never a table:
deploying a new version changes the items that reach the task afterwards, none already past it.

SpiffWorkflow runs a task spec with no way to hand it anything but the task, so the deployed decisions
reach it through a context variable: ``run_engine`` sets it, for the length of one run, to the source
its caller gives (``engine.bpmn.decisions.Deployed``) and collects each evaluation there, for the
item's history. A run given no source fails such a task as an incident, naming it.
Spec, parser and serializer converter live here and are wired in ``engine.bpmn.builder``.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.deep_merge import DeepMerge

from engine.bpmn import dmn
from engine.bpmn.findings import Findings
from engine.store.errors import RectiflowError

LATEST, DEPLOYMENT, VERSION = "latest", "deployment", "version"
BINDINGS = (LATEST, DEPLOYMENT, VERSION)
# What a process version's model keeps of the decisions its bundle brought, for the ``deployment`` binding and
# the bundle's download: decision key -> {"file": the DMN file's name, "sha256": its SHA-256}.
MODEL_KEY = "decisions"


@dataclass(frozen=True)
class DecisionRef:
    """What a business rule task names: a decision key, and how its version is chosen."""

    key: str
    binding: str = LATEST
    version: int | None = None


class DecisionSource(Protocol):
    def table(self, ref: DecisionRef) -> tuple[int, dmn.Table]:
        """The version ``ref`` resolves to now, and its table; raises ``RectiflowError`` naming what is missing."""


@dataclass(frozen=True)
class Evaluated:
    """One evaluation during a run: the task, the decision version it resolved to, what the table gave."""

    element: str
    version: int
    evaluation: dmn.Evaluation

    def as_record(self) -> dict[str, Any]:
        """What the item's history keeps: which table and version, the values it read, what it gave and why."""
        found = self.evaluation
        record = {
            "decision": found.table.key,
            "version": self.version,
            "hit_policy": found.table.hit_policy,
            "inputs": found.inputs,
            "matched_rules": found.matched,
            "outputs": found.outputs,
        }
        # As the task's data shows them: a value JSON has no type for (a date) is its text.
        loaded: dict[str, Any] = json.loads(json.dumps(record, default=str))
        return loaded


@dataclass
class _Run:
    source: DecisionSource | None
    evaluated: list[Evaluated] = field(default_factory=list)


_current: ContextVar[_Run | None] = ContextVar("decisions", default=None)


@contextmanager
def evaluating(source: DecisionSource | None) -> Iterator[list[Evaluated]]:
    """Business rule tasks run inside resolve through ``source``; yields the evaluations, as they happen."""
    run = _Run(source)
    token = _current.set(run)
    try:
        yield run.evaluated
    finally:
        _current.reset(token)


def sandboxed(engine: PythonScriptEngine) -> dmn.Evaluate:
    """How a table's expressions run: in the script engine's environment, the diagram's sandbox."""
    return lambda text, context: engine.environment.evaluate(text, context)


class BusinessRuleTask(BpmnSpecMixin):
    """Evaluates the decision its reference resolves to and merges the outputs into the task's data."""

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        decision_ref: str = "",
        binding: str = LATEST,
        decision_version: int | None = None,
        result_variable: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision_ref = decision_ref
        self.binding = binding
        self.decision_version = decision_version
        self.result_variable = result_variable

    def _run_hook(self, my_task: SpiffTask) -> bool:
        run = _current.get()
        if run is None or run.source is None:
            raise WorkflowTaskException("决策表不可用 No deployed decisions are available to this run", task=my_task)
        found = self._evaluate(run.source, my_task)
        if isinstance(found, str):
            # Raised here, not inside an ``except``: the incident then shows this message, not a chained error.
            raise WorkflowTaskException(found, task=my_task)
        run.evaluated.append(Evaluated(str(self.bpmn_id), *found))
        my_task.data = DeepMerge.merge(my_task.data, self._result(found[1]))
        return True

    def _evaluate(self, source: DecisionSource, my_task: SpiffTask) -> tuple[int, dmn.Evaluation] | str:
        """The version the reference resolves to and what its table gives; or why it gives nothing."""
        try:
            version, table = source.table(DecisionRef(self.decision_ref, self.binding, self.decision_version))
            evaluation = dmn.evaluate(table, dict(my_task.data), sandboxed(my_task.workflow.script_engine))
        except (RectiflowError, dmn.DecisionFailed) as exc:
            return str(exc)
        return evaluation.problem or (version, evaluation)

    def _result(self, evaluation: dmn.Evaluation) -> dict[str, Any]:
        """With a ``camunda:resultVariable``, the outputs go under it (a list of them for COLLECT); without,
        each output is a variable (for COLLECT, the list of its values), as SpiffWorkflow merges them."""
        outputs = evaluation.outputs
        if self.result_variable:
            return {self.result_variable: outputs}
        if isinstance(outputs, list):
            return {spec.name: [found[spec.name] for found in outputs] for spec in evaluation.table.outputs}
        return dict(outputs or {})


def _attribute(node: Any, name: str) -> str:
    return str(node.get(f"{{{CAMUNDA_MODEL_NS}}}{name}") or "").strip()


class BusinessRuleTaskParser(CamundaTaskParser):
    def create_task(self) -> BusinessRuleTask:
        version = _attribute(self.node, "decisionRefVersion")
        return BusinessRuleTask(
            self.spec,
            self.bpmn_id,
            decision_ref=self.get_decision_ref(self.node),
            binding=_attribute(self.node, "decisionRefBinding") or LATEST,
            decision_version=int(version) if version.isdigit() else None,
            result_variable=_attribute(self.node, "resultVariable") or None,
            **self.bpmn_attributes,
        )

    @staticmethod
    def get_decision_ref(node: Any) -> str:
        # Read by the library's parser too, to list a diagram's dependencies.
        return _attribute(node, "decisionRef")


class BusinessRuleTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: BusinessRuleTask) -> dict[str, Any]:
        return {
            **self.get_default_attributes(spec),
            "decision_ref": spec.decision_ref,
            "binding": spec.binding,
            "decision_version": spec.decision_version,
            "result_variable": spec.result_variable,
        }


def decision_refs(process: etree._Element) -> set[str]:
    """The keys of the decisions the process's business rule tasks evaluate."""
    return {
        key
        for node in process.iter(full_tag("businessRuleTask"))
        if (key := BusinessRuleTaskParser.get_decision_ref(node))
    }


def check_tasks(
    process: etree._Element, bundled: Container[str], deployed: Container[str] | None, findings: Findings
) -> None:
    """Each business rule task names a decision its bundle brings or one deployed before, bound as Camunda binds.

    ``deployed`` None: no database to ask (``rectiflow lint``), a decision outside the bundle is not checked.
    """
    for node in process.iter(full_tag("businessRuleTask")):
        element, key = node.get("id", ""), BusinessRuleTaskParser.get_decision_ref(node)
        binding = _attribute(node, "decisionRefBinding") or LATEST
        if not key:
            continue  # refused by the structural checks
        if binding not in BINDINGS:
            message = (
                f"未知的决策绑定 {element!r} has camunda:decisionRefBinding {binding!r}; use {', '.join(BINDINGS)}"
            )
            findings.error("decision-binding", element, message)
        elif binding == VERSION and not _attribute(node, "decisionRefVersion").isdigit():
            message = f'决策版本缺失 {element!r} binds a version: give camunda:decisionRefVersion="N" (a number)'
            findings.error("decision-binding", element, message)
        elif binding == DEPLOYMENT and key not in bundled:
            message = f"流程包中没有决策 {key!r} {element!r} binds the decision of its deployment: the bundle has none"
            findings.error("decision-unknown", element, message)
        elif deployed is not None and key not in bundled and key not in deployed:
            message = (
                f"决策 {key!r} 未部署 {element!r} evaluates decision {key!r}: it is neither in the bundle nor deployed"
            )
            findings.error("decision-unknown", element, message)


def decided_variables(process: etree._Element, outputs: Mapping[str, list[str]]) -> set[str]:
    """The variables the process's business rule tasks set, where known: a result variable, or the outputs of a
    decision of the bundle (``outputs``: decision key -> output names)."""
    found: set[str] = set()
    for node in process.iter(full_tag("businessRuleTask")):
        result = _attribute(node, "resultVariable")
        found.update([result] if result else outputs.get(BusinessRuleTaskParser.get_decision_ref(node), []))
    return found
