"""What a call activity may declare, checked at deploy naming it; bundled callers deploy after what they call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import Bundle
from engine.store.db import transaction
from engine.store.errors import InvalidDiagram
from tests.conftest import PROCESSES

EXAMPLES = PROCESSES / "examples"


def calling(attributes: str, *, beside: str = "") -> bytes:
    """A process ``p`` whose call activity ``x`` has ``attributes``; ``beside``: more processes in the file."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="x" {attributes}><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="x" />
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="end" />
  </bpmn:process>{beside}
</bpmn:definitions>""".encode()


LOCAL = '<bpmn:process id="q"><bpmn:startEvent id="qs"/></bpmn:process>'
BACK = (
    '<bpmn:process id="q"><bpmn:startEvent id="qs"><bpmn:outgoing>qf</bpmn:outgoing></bpmn:startEvent>'
    '<bpmn:callActivity id="qx" calledElement="p"><bpmn:incoming>qf</bpmn:incoming></bpmn:callActivity>'
    '<bpmn:sequenceFlow id="qf" sourceRef="qs" targetRef="qx" /></bpmn:process>'
)


@pytest.mark.parametrize(
    ("attributes", "beside", "code", "words"),
    [
        ("", "", "call-element-missing", "has no calledElement"),
        ('calledElement="r" camunda:calledElementBinding="versionTag"', "", "call-binding", "'versionTag'"),
        ('calledElement="r" camunda:calledElementVersion="two"', "", "call-binding", "positive whole number"),
        ('calledElement="r" camunda:calledElementVersion="0"', "", "call-binding", "positive whole number"),
        (
            'calledElement="r" camunda:calledElementBinding="latest" camunda:calledElementVersion="2"',
            "",
            "call-binding",
            "use binding 'version'",
        ),
        ('calledElement="r" camunda:calledElementBinding="deployment"', "", "call-binding", "not in this file"),
        ('calledElement="q" camunda:calledElementVersion="1"', LOCAL, "call-binding", "remove the version binding"),
        ('calledElement="q"', BACK, "call-recursive", "p → q → p"),
    ],
    ids=[
        "no key",
        "unknown binding",
        "bad version",
        "version 0",
        "latest with version",
        "deployment",
        "local",
        "cycle",
    ],
)
def test_a_call_it_cannot_make_is_refused_naming_it(attributes: str, beside: str, code: str, words: str) -> None:
    with pytest.raises(InvalidDiagram) as caught:
        deploy.build(Bundle(calling(attributes, beside=beside), {}))
    (error,) = [e for e in caught.value.errors if e["code"] == code]
    assert words in error["message"]
    assert error["element"] in ("x", "p")


def test_a_call_of_a_process_of_the_same_file_deploys_without_a_database() -> None:
    assert deploy.build(
        Bundle(calling('calledElement="q" camunda:calledElementBinding="deployment"', beside=LOCAL), {})
    )


def test_a_folder_deploys_each_called_process_before_its_callers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # call_activity.bpmn sorts before called_review.bpmn, which it calls.
    for name in ("call_activity.bpmn", "called_review.bpmn"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copytree(EXAMPLES / "forms", tmp_path / "forms")
    (tmp_path / "stray.bpmn").write_bytes(calling('calledElement="nowhere"'))
    with pytest.raises(InvalidDiagram) as caught, transaction(sessions) as session:
        deploy.deploy_bundled(session, tmp_path)
    assert caught.value.errors[0]["code"] == "call-not-deployed"  # a call nothing in the folder answers
    (tmp_path / "stray.bpmn").unlink()
    with transaction(sessions) as session:
        deployed = deploy.deploy_bundled(session, tmp_path)
    assert [(definition.key, created) for definition, created in deployed] == [
        ("call_activity", True),
        ("called_review", True),
    ]
