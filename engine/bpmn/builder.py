"""Builds the three SpiffWorkflow parts every other module receives: parser, script engine, serializer.

Nothing else in the product constructs these, so changing the script environment (a sandbox) or the
serializer configuration happens here and only here.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Any, ClassVar

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, ReceiveTask, StartEvent
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEventDefinitionParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import Task

from engine.bpmn.jail import JailedEnvironment
from engine.store.clock import days_before

# Our diagrams use the Camunda extension namespace: stock bpmn-js with camunda-bpmn-moddle and the
# Camunda desktop modeler can edit every property the product reads (formKey, camunda:properties).
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


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


class Parser(CamundaParser):
    """Camunda's parser, with the events and receive tasks that wait for a message catching a ``MergedMessage``."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_StartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (_CatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_BoundaryEventParser, BoundaryEvent),
        full_tag("receiveTask"): (_ReceiveTaskParser, ReceiveTask),
    }


def make_parser() -> CamundaParser:
    """A fresh parser; parsers accumulate files, so each deployment gets its own."""
    return Parser()


@cache
def script_engine() -> PythonScriptEngine:
    # Diagram code runs restricted (engine.bpmn.sandbox) in a limited child process (engine.bpmn.jail);
    # what it may call besides its data: the deadline helper of timer events.
    return PythonScriptEngine(environment=JailedEnvironment({"days_before": days_before}))


@cache
def serializer() -> BpmnWorkflowSerializer:
    # Copy the library's config before customising it: never edit a library's module-level state.
    config = deepcopy(CAMUNDA_CONFIG)
    config[MergedMessage] = MessageEventDefinitionConverter
    registry = BpmnWorkflowSerializer.configure(config)
    return BpmnWorkflowSerializer(registry)
