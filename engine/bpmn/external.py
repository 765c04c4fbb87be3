"""External service tasks (``camunda:type="external" camunda:topic="…"``) for SpiffWorkflow.

SpiffWorkflow's own service task calls the script engine; ours does nothing by itself: like a user
task it is ``manual``, so the engine stops when it becomes READY, and an external worker completes
it through the API (``engine.items.external``). Spec, parser and serializer converter live here and
are wired in ``engine.bpmn.builder``, the one module that builds the library's parts.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin, ManualTaskMixin
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser

# The tag's ``camunda:type`` value that makes a service task a job for external workers.
EXTERNAL = "external"


class ExternalServiceTask(ManualTaskMixin, BpmnSpecMixin):
    """Waits, READY, until a worker fetching ``topic`` completes it."""

    def __init__(self, wf_spec: Any, bpmn_id: str, topic: str = "", **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic


class ExternalServiceTaskParser(CamundaTaskParser):
    def create_task(self) -> ExternalServiceTask:
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic", "")
        return ExternalServiceTask(self.spec, self.bpmn_id, topic=topic, **self.bpmn_attributes)


class ExternalServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: ExternalServiceTask) -> dict[str, Any]:
        return {**self.get_default_attributes(spec), "topic": spec.topic}
