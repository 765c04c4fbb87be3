"""The API keeps its own contract: schemathesis fuzzes every operation of ``/api/v1/openapi.json``.

Each generated request is sent three times, over seeded data: without a token, as a manager of
another unit (refused paths: 401, 403, 404) and as a user holding every role (allowed paths). Every
answer must be documented: no 5xx, a documented status and content type, a body matching the
documented schema (problem+json errors included), and invalid input refused. The .xlsx and
.bpmn downloads document no body schema: their status and content type are what is checked.

Bounded and deterministic: a fixed number of examples per operation and generation mode,
derandomized, no example database. ``schemathesis.pytest.from_fixture`` is not used: with pytest
9.2 it fails on ``request.node._nodeid``; the operations are walked here, one subtest each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from tests.conftest import People

API = "/api/v1"
EXAMPLES = 10
# Anonymous first, then refused, then allowed: the allowed call may change what the others would see.
CALLERS = (None, "works_manager", "chief")
# Not ``positive_data_acceptance``: a schema-valid request may still be refused by a rule the schema
# cannot state (an unknown department, a form field the task's form requires), rightly with 422.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # Each example is three real requests on a real database: slow by Hypothesis' measure, by design.
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
Seeded = dict[str, list[Any]]


@pytest.fixture(autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches what it learns under ``.hypothesis`` in the working directory: not in the repo."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


def seed(client: FlaskClient, people: People) -> Seeded:
    """Items at each step of the lifecycle, a joint task, a progress note, an extension; their ids."""

    def post(user: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"{API}{url}", json=body, headers=people.auth(user))
        assert response.status_code in (200, 201), response.json
        return dict(response.json or {})

    def create(title: str, *steps: tuple[str, dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """Raise an item and complete its first task with each (user, form data) in turn."""
        item = post("reporter", "/items", {"title": title, "department": "office", **fields})
        for user, data in steps:
            item = post(user, f"/tasks/{item['tasks'][0]['id']}/complete", {"data": data})
        return item

    measured, owned, done = ("manager", {"measures": "m"}), ("manager", {"owner": "owner"}), ("owner", {"result": "r"})
    rectify = create("整改中", measured, owned, deadline="2030-12-31")
    post("owner", f"/items/{rectify['id']}/progress", {"note": "已完成一半", "percent": 50, "plan": "下周完成"})
    extension = post("owner", f"/items/{rectify['id']}/extensions", {"new_deadline": "2031-06-30", "reason": "采购"})
    items = [
        create("待制定措施"),
        create("待明确责任人", measured),
        rectify,
        create("待审核", measured, owned, done),
        create("已销号", measured, owned, done, ("approver", {"decision": "approve"})),
        create("联动攻坚", co_departments=["works"]),
    ]
    notifications = [
        notification["id"]
        for user in ("chief", "owner")
        for notification in (client.get(f"{API}/notifications", headers=people.auth(user)).json or {})["notifications"]
    ]
    return {
        "item_id": [item["id"] for item in items],
        "task_id": [task["id"] for item in items for task in item["tasks"]],
        "request_id": [extension["id"]],
        "notification_id": notifications,
        "key": ["rectification_item", "joint_task"],
        "version": [1],
    }


@pytest.fixture
def contract(
    app: Flask, client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> tuple[schemathesis.BaseSchema, Seeded]:
    """The app's own OpenAPI document over seeded data, with ``chief`` holding every role in ``office``."""
    with transaction(sessions) as session:
        identity.add_user(
            session, "chief", "office", ["reporter", "manager", "approver", "designer", "auditor", "admin", "worker"]
        )
        people.tokens["chief"] = identity.create_token(session, "chief")
    seeded = seed(client, people)
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    # Callers' tokens are set per call; unknown query parameters are ignored, as HTTP APIs commonly do.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema, seeded


def cases(operation: APIOperation, seeded: Seeded, mode: GenerationMode) -> st.SearchStrategy[schemathesis.Case]:
    """Generated path ids mostly name nothing (404); others are drawn from the seeded objects' ids."""
    generated = operation.as_strategy(mode)
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or not all(name in seeded for name in names):
        return generated
    known = st.fixed_dictionaries({name: st.sampled_from(seeded[name]) for name in names})
    return st.one_of(generated, known.flatmap(lambda ids: operation.as_strategy(mode, path_parameters=ids)))


def _can_be_wrong(parameter: Any) -> bool:
    """A path segment of text (a username, a process key) has no wrong value to send: any text is one."""
    definition = parameter.definition
    is_text_segment = definition.get("in") == "path" and definition.get("schema", {}).get("type") == "string"
    return not is_text_segment and definition.get("in") != "header"


def modes(operation: APIOperation) -> list[GenerationMode]:
    """Negative examples need something to get wrong: a body or a constrained parameter."""
    if operation.body or any(_can_be_wrong(parameter) for parameter in operation.iter_parameters()):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def test_every_operation_keeps_its_documented_contract(
    contract: tuple[schemathesis.BaseSchema, Seeded], people: People, subtests: pytest.Subtests
) -> None:
    schema, seeded = contract
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes(operation):
            with subtests.test(f"{operation.label} {mode.value}"):

                @SETTINGS
                @hypothesis.given(case=cases(operation, seeded, mode))
                def call(case: schemathesis.Case) -> None:
                    for caller in CALLERS:
                        headers = people.auth(caller) if caller else {}
                        case.call_and_validate(headers=headers, checks=CHECKS)

                call()
