"""Builds the three SpiffWorkflow parts every other module receives: parser, script engine, serializer.

Nothing else in the product constructs these, so changing the script environment (a sandbox) or the
serializer configuration happens here and only here.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import ClassVar

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from engine.bpmn.external import ExternalServiceTask, ExternalServiceTaskConverter, ExternalServiceTaskParser
from engine.bpmn.jail import JailedEnvironment
from engine.store.clock import days_before

# Our diagrams use the Camunda extension namespace: stock bpmn-js with camunda-bpmn-moddle and the
# Camunda desktop modeler can edit every property the product reads (formKey, camunda:properties).
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class _Parser(CamundaParser):
    # A service task waits for an external worker (``engine.bpmn.external``); the structural checks
    # refuse one that is not ``camunda:type="external"`` before the parser sees it.
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, tuple[type, type]]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ExternalServiceTaskParser, ExternalServiceTask),
    }


def make_parser() -> CamundaParser:
    """A fresh parser; parsers accumulate files, so each deployment gets its own."""
    return _Parser()


@cache
def script_engine() -> PythonScriptEngine:
    # Diagram code runs restricted (engine.bpmn.sandbox) in a limited child process (engine.bpmn.jail);
    # what it may call besides its data: the deadline helper of timer events.
    return PythonScriptEngine(environment=JailedEnvironment({"days_before": days_before}))


@cache
def serializer() -> BpmnWorkflowSerializer:
    # Copy the library's config before customising it: never edit a library's module-level state.
    config = deepcopy(CAMUNDA_CONFIG)
    config[ExternalServiceTask] = ExternalServiceTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    return BpmnWorkflowSerializer(registry)
