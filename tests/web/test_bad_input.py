"""Bad input over HTTP: each is a problem+json naming the field at fault, and each changes nothing.

"Changes nothing" is what a reader of the API sees: the number of items and, for every item, its
ETag (version), status, owner, live tasks and history length, and the latest process version.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import People

API = "/api/v1"
JSON = "application/json"


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An unhandled exception is answered 500 and logged by web.problems: none may happen here."""
    yield
    crashes = [r for r in caplog.records if r.name == "web.problems" and r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage() for r in crashes]


@dataclass
class World:
    """Items at each step of the default lifecycle, and one finished task, seen through the API."""

    client: FlaskClient
    people: People
    ids: dict[str, int] = field(default_factory=dict)

    def post(self, user: str, url: str, **kwargs: Any) -> TestResponse:
        return self.client.post(url, headers=self.people.auth(user), **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "窗口服务排队时间长", "department": "office", **fields}
        response = self.post("reporter", f"{API}/items", json=body)
        assert response.status_code == 201, response.json
        return dict(response.json or {})

    def advance(self, user: str, item: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        response = self.post(user, f"{API}/tasks/{item['tasks'][0]['id']}/complete", json={"data": data})
        assert response.status_code == 200, response.json
        return dict(response.json or {})

    def observe(self) -> tuple[Any, ...]:
        auditor = self.people.auth("auditor")
        listed = self.client.get(f"{API}/items?per_page=200", headers=auditor).json
        seen = []
        for summary in listed["items"]:
            got = self.client.get(f"{API}/items/{summary['id']}", headers=auditor)
            events = self.client.get(f"{API}/items/{summary['id']}/history", headers=auditor).json["events"]
            tasks = [(t["id"], t["name"], t["state"], tuple(t["candidates"])) for t in got.json["tasks"]]
            seen.append(
                (got.headers["ETag"], got.json["status"], got.json["owner"], got.json["data"], tasks, len(events))
            )
        processes = self.client.get(f"{API}/processes", headers=auditor).json["processes"]
        return listed["total"], seen, [(p["key"], p["latest_version"]) for p in processes]


@pytest.fixture
def world(client: FlaskClient, people: People) -> World:
    w = World(client, people)
    measures = w.create(title="待制定措施")
    owner = w.advance("manager", w.create(title="待明确责任人"), {"measures": "增设自助取号机"})
    item = w.advance("manager", w.create(title="待审核"), {"measures": "m"})
    done_task = item["tasks"][0]["id"]
    item = w.advance("manager", item, {"owner": "owner"})
    review = w.advance("owner", item, {"result": "已整改"})
    w.ids = {
        "item": measures["id"],
        "define_measures": measures["tasks"][0]["id"],
        "assign_owner": owner["tasks"][0]["id"],
        "review": review["tasks"][0]["id"],
        "done": done_task,
    }
    assert (measures["status"], owner["status"], review["status"]) == ("identified", "measures", "review")
    return w


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.headers
    body = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["type"], str) and isinstance(body["title"], str) and isinstance(body["detail"], str)
    assert set(body) <= {"type", "title", "status", "detail", "errors"}
    return dict(body)


def fields_of(body: dict[str, Any]) -> list[str]:
    return sorted(error["field"] for error in body.get("errors", []))


def refused(world: World, user: str, method: str, url: str, status: int, **kwargs: Any) -> dict[str, Any]:
    """Send a bad request; check the problem answer and that nobody can see any change."""
    before = world.observe()
    response = world.client.open(url.format(**world.ids), method=method, headers=world.people.auth(user), **kwargs)
    body = assert_problem(response, status)
    assert world.observe() == before, f"{method} {url} {kwargs} changed something"
    return body


# --- raising an item --------------------------------------------------------------------------------------------------

VALID = {"title": "窗口服务排队时间长", "department": "office"}

CREATE_422 = [
    ("unknown field", {**VALID, "colour": "red"}, ["colour"]),
    ("title as number", {**VALID, "title": 42}, ["title"]),
    ("title empty", {**VALID, "title": ""}, ["title"]),
    ("title too long", {**VALID, "title": "长" * 501}, ["title"]),
    ("title with NUL", {**VALID, "title": "窗口\u0000服务"}, ["title"]),
    ("title with a lone surrogate", {**VALID, "title": "窗口\ud800"}, ["title"]),
    ("description with NUL", {**VALID, "description": "a\u0000b"}, ["description"]),
    ("deadline in words", {**VALID, "deadline": "tomorrow"}, ["deadline"]),
    ("deadline not a day", {**VALID, "deadline": "2026-02-30"}, ["deadline"]),
    ("deadline as number", {**VALID, "deadline": 20261231}, ["deadline"]),
    ("source not in the list", {**VALID, "source": "道听途说"}, ["source"]),
    ("severity not one of the three", {**VALID, "severity": "特别严重"}, ["severity"]),
    ("severity null", {**VALID, "severity": None}, ["severity"]),
    ("missing title", {"department": "office"}, ["title"]),
    ("missing department", {"title": "t"}, ["department"]),
    ("missing both", {}, ["department", "title"]),
    ("null title", {**VALID, "title": None}, ["title"]),
    ("unknown department", {**VALID, "department": "nowhere"}, ["department"]),
    ("department with NUL", {**VALID, "department": "office\u0000"}, ["department"]),
    ("unknown process", {**VALID, "process": "no_such_process"}, ["process"]),
    ("process with NUL", {**VALID, "process": "rectification_item\u0000"}, ["process"]),
    ("an array, not an object", [VALID], ["body"]),
    ("a string, not an object", "title", ["body"]),
]


def test_creating_an_item_with_bad_fields_is_422_naming_them(world: World, subtests: pytest.Subtests) -> None:
    for case, body, expected in CREATE_422:
        with subtests.test(case):
            problem = refused(world, "reporter", "POST", f"{API}/items", 422, json=body)
            assert fields_of(problem) == expected
            assert all(error["message"] for error in problem["errors"])


MALFORMED = ['{"title": "t", "department": ', "{'title': 't'}", "\xff\xfe{}", "[1,]"]


def test_malformed_json_is_400(world: World, subtests: pytest.Subtests) -> None:
    for raw in MALFORMED:
        with subtests.test(raw):
            data = raw.encode("latin-1")
            problem = refused(world, "reporter", "POST", f"{API}/items", 400, data=data, content_type=JSON)
            assert fields_of(problem) == ["body"]
            url = API + "/tasks/{define_measures}/complete"
            problem = refused(world, "manager", "POST", url, 400, data=data, content_type=JSON)
            assert fields_of(problem) == ["body"]


def test_the_refused_messages_name_the_problem(world: World) -> None:
    problem = refused(world, "reporter", "POST", f"{API}/items", 422, json={**VALID, "department": "nowhere"})
    assert "nowhere" in problem["detail"]
    problem = refused(world, "reporter", "POST", f"{API}/items", 422, json={**VALID, "process": "no_such_process"})
    assert "no_such_process" in problem["detail"]


# --- completing a task ------------------------------------------------------------------------------------------------

COMPLETE_422 = [
    ("missing required field", "define_measures", {}, ["data.measures"]),
    ("required field empty", "define_measures", {"measures": ""}, ["data.measures"]),
    ("required field wrong type", "define_measures", {"measures": 5}, ["data.measures"]),
    ("extra unknown field", "define_measures", {"measures": "m", "colour": "red"}, ["data.colour"]),
    ("field of another task", "define_measures", {"measures": "m", "owner": "owner"}, ["data.owner"]),
    ("text with NUL", "define_measures", {"measures": "a\u0000b"}, ["data.measures"]),
    ("text with a lone surrogate", "define_measures", {"measures": "a\udc00"}, ["data.measures"]),
    ("owner unknown", "assign_owner", {"owner": "nobody"}, ["data.owner"]),
    ("owner of another department", "assign_owner", {"owner": "outsider"}, ["data.owner"]),
    ("owner not a string", "assign_owner", {"owner": ["owner"]}, ["data.owner"]),
    ("reject without comment", "review", {"decision": "reject"}, ["data.comment"]),
    ("reject with an empty comment", "review", {"decision": "reject", "comment": ""}, ["data.comment"]),
    ("decision maybe", "review", {"decision": "maybe"}, ["data.decision"]),
    ("decision missing", "review", {"comment": "ok"}, ["data.decision"]),
]


def test_task_data_is_checked_against_the_form(world: World, subtests: pytest.Subtests) -> None:
    users = {"define_measures": "manager", "assign_owner": "manager", "review": "approver"}
    for case, task, data, expected in COMPLETE_422:
        with subtests.test(case):
            url = API + "/tasks/{" + task + "}/complete"
            problem = refused(world, users[task], "POST", url, 422, json={"data": data})
            assert fields_of(problem) == expected
            assert all(error["message"] for error in problem["errors"])


def test_the_owner_messages_say_who_is_wrong(world: World) -> None:
    url = API + "/tasks/{assign_owner}/complete"
    problem = refused(world, "manager", "POST", url, 422, json={"data": {"owner": "outsider"}})
    assert "outsider" in problem["errors"][0]["message"]
    problem = refused(world, "manager", "POST", url, 422, json={"data": {"owner": "nobody"}})
    assert "nobody" in problem["errors"][0]["message"]


COMPLETE_BODY_422 = [
    ("data a string", {"data": "measures"}, ["data"]),
    ("data a list", {"data": [{"measures": "m"}]}, ["data"]),
    ("data a number", {"data": 5}, ["data"]),
    ("data null", {"data": None}, ["data"]),
    ("data missing", {}, ["data"]),
    ("unknown field beside data", {"data": {"measures": "m"}, "comment": "x"}, ["comment"]),
    ("an array, not an object", [{"data": {"measures": "m"}}], ["body"]),
]


def test_the_complete_body_must_be_an_object_with_data(world: World, subtests: pytest.Subtests) -> None:
    for case, body, expected in COMPLETE_BODY_422:
        with subtests.test(case):
            problem = refused(world, "manager", "POST", API + "/tasks/{define_measures}/complete", 422, json=body)
            assert fields_of(problem) == expected


def test_completing_a_completed_task_is_409(world: World) -> None:
    problem = refused(world, "manager", "POST", API + "/tasks/{done}/complete", 409, json={"data": {"measures": "m"}})
    assert "no longer ready" in problem["detail"]


def test_completing_a_task_twice_is_409_the_second_time(world: World) -> None:
    url = f"{API}/tasks/{world.ids['define_measures']}/complete"
    assert world.post("manager", url, json={"data": {"measures": "m"}}).status_code == 200
    refused(world, "manager", "POST", url, 409, json={"data": {"measures": "again"}})


# --- addresses and methods --------------------------------------------------------------------------------------------

NOT_FOUND = [
    ("GET", API + "/items/999999"),
    ("GET", API + "/items/999999/history"),
    ("POST", API + "/tasks/999999/complete"),
    ("GET", API + "/items/abc"),
    ("GET", API + "/items/1.5"),
    ("GET", API + "/items/-1"),
    ("GET", API + "/items/{item}x"),
    ("GET", API + "/items/99999999999999999999"),
    ("GET", API + "/items/2147483648"),
    ("GET", API + "/items/9223372036854775808/history"),
    ("POST", API + "/tasks/abc/complete"),
    ("POST", API + "/tasks/99999999999999999999/complete"),
    ("POST", API + "/tasks/2147483648/complete"),
    ("GET", API + "/processes/rectification_item/99/bpmn"),
    ("GET", API + "/processes/rectification_item/99999999999999999999/bpmn"),
    ("GET", API + "/processes/no_such_process/1/bpmn"),
    ("GET", API + "/processes/rectification_item%00/1/bpmn"),
    ("GET", API + "/nothing-here"),
]


def test_unknown_addresses_are_404(world: World, subtests: pytest.Subtests) -> None:
    for method, url in NOT_FOUND:
        with subtests.test(f"{method} {url}"):
            refused(world, "manager", method, url, 404, json={"data": {"measures": "m"}})


def test_an_item_of_another_unit_is_404_not_403(world: World) -> None:
    refused(world, "works_manager", "GET", API + "/items/{item}", 404)
    refused(world, "works_manager", "GET", API + "/items/{item}/history", 404)


METHODS = [
    ("DELETE", API + "/items", "GET, HEAD, OPTIONS, POST"),
    ("PUT", API + "/items/{item}", "GET, HEAD, OPTIONS"),
    ("PATCH", API + "/items/{item}", "GET, HEAD, OPTIONS"),
    ("POST", API + "/items/{item}/history", "GET, HEAD, OPTIONS"),
    ("GET", API + "/tasks/{define_measures}/complete", "OPTIONS, POST"),
    ("DELETE", API + "/tasks", "GET, HEAD, OPTIONS"),
    ("PUT", API + "/processes", "GET, HEAD, OPTIONS, POST"),
    ("POST", API + "/health", "GET, HEAD, OPTIONS"),
]


def test_a_wrong_method_is_405_with_allow(world: World, subtests: pytest.Subtests) -> None:
    for method, url, allow in METHODS:
        with subtests.test(f"{method} {url}"):
            problem = refused(world, "manager", method, url, 405, json={"data": {"measures": "m"}})
            assert problem["title"] == "Method Not Allowed"
            response = world.client.open(url.format(**world.ids), method=method, headers=world.people.auth("manager"))
            assert sorted(response.headers["Allow"].split(", ")) == allow.split(", ")


# --- listing ----------------------------------------------------------------------------------------------------------

QUERY_422 = [
    ("per_page=0", ["per_page"]),
    ("per_page=1000", ["per_page"]),
    ("per_page=-5", ["per_page"]),
    ("per_page=many", ["per_page"]),
    ("page=0", ["page"]),
    ("page=1.5", ["page"]),
    ("page=99999999999999999999", ["page"]),
    ("page=0&per_page=0", ["page", "per_page"]),
    ("q=" + "x" * 201, ["q"]),
    ("q=%00", ["q"]),
    ("status=%00", ["status"]),
    ("department=office%00", ["department"]),
    ("severity=很严重", ["severity"]),
]


def test_bad_list_parameters_are_422_naming_them(world: World, subtests: pytest.Subtests) -> None:
    for query, expected in QUERY_422:
        with subtests.test(query[:40]):
            problem = refused(world, "auditor", "GET", f"{API}/items?{query}", 422)
            assert fields_of(problem) == expected


def test_list_parameters_at_their_limits_are_accepted(world: World) -> None:
    auth = world.people.auth("auditor")
    for query in ("per_page=1", "per_page=200", "page=2147483647", "q=" + "x" * 200):
        assert world.client.get(f"{API}/items?{query}", headers=auth).status_code == 200, query
    assert world.client.get(f"{API}/items?per_page=1", headers=auth).json["total"] == 3


# --- deploying --------------------------------------------------------------------------------------------------------


def test_deploying_without_a_file_is_422_naming_file(world: World) -> None:
    problem = refused(world, "designer", "POST", f"{API}/processes", 422, data={}, content_type="multipart/form-data")
    assert fields_of(problem) == ["file"]
    form = {"document": (io.BytesIO(b"<x/>"), "x.bpmn")}
    problem = refused(world, "designer", "POST", f"{API}/processes", 422, data=form, content_type="multipart/form-data")
    assert "file" in fields_of(problem)


NOT_DIAGRAMS = [b"not xml at all", b"<definitions/>", "<?xml version='1.0'?><a>\u00e9</a>".encode("utf-16"), b""]


def test_deploying_a_file_that_is_not_a_diagram_is_422(world: World, subtests: pytest.Subtests) -> None:
    for content in NOT_DIAGRAMS:
        with subtests.test(repr(content[:20])):
            form = {"file": (io.BytesIO(content), "x.bpmn")}
            refused(world, "designer", "POST", f"{API}/processes", 422, data=form, content_type="multipart/form-data")
