"""Builds the three SpiffWorkflow parts every other module receives: parser, script engine, serializer.

Nothing else in the product constructs these, so changing the script environment (a sandbox) or the
serializer configuration happens here and only here.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser
from SpiffWorkflow.bpmn.parser.task_parsers import CallActivityParser, SubprocessParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    CallActivity,
    EventSubprocess,
    IntermediateCatchEvent,
    ReceiveTask,
    StartEvent,
)
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEventDefinitionParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import SubWorkflowParser, UserTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.task import Task

from engine.bpmn.business_rules import BusinessRuleTask, BusinessRuleTaskConverter, BusinessRuleTaskParser
from engine.bpmn.calls import CalledSubWorkflowConverter, DeployedCall, DeployedCallConverter, binding
from engine.bpmn.external import ExternalServiceTask, ExternalServiceTaskConverter, ExternalServiceTaskParser
from engine.bpmn.jail import JailedEnvironment
from engine.store.clock import days_before

# Our diagrams use the Camunda extension namespace: stock bpmn-js with camunda-bpmn-moddle and the
# Camunda desktop modeler can edit every property the product reads (formKey, camunda:properties).
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


# Camunda 7 reads its attributes in the namespace of Activiti too, which it was forked from (MIWG model C.1.0).
ACTIVITI_NS = "http://activiti.org/bpmn"
# A user task's attributes naming who may act (``engine.bpmn.people``).
CANDIDATE_GROUPS = "candidateGroups"
CANDIDATE_USERS = "candidateUsers"
ASSIGNEE = "assignee"
# Where the parser leaves a user task's candidateUsers and assignee (``spec.extensions``): the run evaluates them.
PEOPLE_EXTENSION = "camunda:people"


def camunda_attribute(node: etree._Element, name: str) -> str:
    """A Camunda attribute of ``node``, stripped, in either namespace Camunda reads ("": none)."""
    return (node.get(f"{{{CAMUNDA_NS}}}{name}") or node.get(f"{{{ACTIVITI_NS}}}{name}") or "").strip()


class _UserTaskParser(UserTaskParser):
    def parse_extensions(self, node: object = None) -> dict[str, object]:
        extensions: dict[str, object] = super().parse_extensions(node)
        named = {name: text for name in (CANDIDATE_USERS, ASSIGNEE) if (text := camunda_attribute(self.node, name))}
        if named:
            extensions[PEOPLE_EXTENSION] = named
        return extensions


class _SubProcessParser(SubWorkflowParser):
    """An embedded sub-process, or an event sub-process (``triggeredByEvent``), which Camunda's parser
    takes for an embedded one: ``engine.bpmn.event_subprocesses`` needs to tell them apart."""

    def create_task(self) -> Any:
        spec = SubprocessParser.get_subprocess_spec(self)
        kind = EventSubprocess if self.node.get("triggeredByEvent") == "true" else self.spec_class
        return kind(self.spec, self.bpmn_id, subworkflow_spec=spec, **self.bpmn_attributes)


class MergedMessage(MessageEventDefinition):
    """A message whose variables are merged into the data of the event that catches it.

    As Camunda sets a correlated message's variables on the process; SpiffWorkflow's Camunda flavour
    would keep them apart under a result variable instead. Its own name, so the serializer tells the two apart.
    """

    def update_task_data(self, my_task: Task) -> None:
        event = my_task.internal_data.get(self.name) or {}
        my_task.data.update(event.get("payload") or {})


class _Messages(CamundaEventDefinitionParser):
    def parse_message_event(self, message_event: Any) -> MergedMessage:
        found = super().parse_message_event(message_event)
        return MergedMessage(found.name, found.correlation_properties, found.expression, found.result_var)


class _StartEventParser(_Messages, CamundaStartEventParser):
    pass


class _CatchEventParser(_Messages, CamundaIntermediateCatchEventParser):
    pass


class _BoundaryEventParser(_Messages, CamundaBoundaryEventParser):
    pass


class _ReceiveTaskParser(_Messages, ReceiveTaskParser):
    pass


class _CallActivityParser(CallActivityParser):
    """A call of a process of the same file stays SpiffWorkflow's; any other key calls a deployed process."""

    def create_task(self) -> Any:
        called = self.node.get("calledElement", "")
        if self.process_parser.parser.get_process_parser(called) is not None:
            return super().create_task()
        _binding, version = binding(self.node, camunda_attribute)
        # The lint refuses a version that is not a positive integer before the parser sees it.
        number = int(version) if version else None
        return DeployedCall(self.spec, self.bpmn_id, called, version=number, **self.bpmn_attributes)


class Parser(CamundaParser):
    """Camunda's parser, with user tasks keeping the people their attributes name, and the events and receive
    tasks that wait for a message catching a ``MergedMessage``."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_UserTaskParser, UserTask),
        full_tag("startEvent"): (_StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_CatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_BoundaryEventParser, BoundaryEvent),
        full_tag("receiveTask"): (_ReceiveTaskParser, ReceiveTask),
        full_tag("subProcess"): (_SubProcessParser, CallActivity),
        # A service task waits for an external worker (``engine.bpmn.external``); the structural checks
        # refuse one that is not ``camunda:type="external"`` before the parser sees it.
        full_tag("serviceTask"): (ExternalServiceTaskParser, ExternalServiceTask),
        # A call of a deployed process by key, resolved when reached (``engine.bpmn.calls``).
        full_tag("callActivity"): (_CallActivityParser, CallActivity),
        # A business rule task names a deployed decision, resolved when it runs (``engine.bpmn.business_rules``).
        full_tag("businessRuleTask"): (BusinessRuleTaskParser, BusinessRuleTask),
    }


def make_parser() -> CamundaParser:
    """A fresh parser; parsers accumulate files, so each deployment gets its own."""
    return Parser()


@cache
def script_engine() -> PythonScriptEngine:
    # Diagram code runs restricted (engine.bpmn.sandbox) in a limited child process (engine.bpmn.jail);
    # what it may call besides its data: the deadline helper of timer events.
    return PythonScriptEngine(environment=JailedEnvironment({"days_before": days_before}))


def _config() -> dict[Any, Any]:
    # Copy the library's config before customising it: never edit a library's module-level state.
    config = deepcopy(CAMUNDA_CONFIG)
    config[MergedMessage] = MessageEventDefinitionConverter
    config[ExternalServiceTask] = ExternalServiceTaskConverter
    config[DeployedCall] = DeployedCallConverter
    config[BpmnSubWorkflow] = CalledSubWorkflowConverter
    config[BusinessRuleTask] = BusinessRuleTaskConverter
    return config


@cache
def serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config()))


class _StateConverter(BpmnWorkflowConverter):
    """A workflow without its specs, which live once on the definition: converting them is most of the work."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


@cache
def state_serializer() -> BpmnWorkflowSerializer:
    """Serializes an item's state only (``engine.bpmn.instance.dump``); restoring uses :func:`serializer`."""
    config = _config()
    config[BpmnWorkflow] = _StateConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
