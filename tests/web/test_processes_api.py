"""Deploying diagrams over HTTP: versions, statuses read from the diagram, and every way a diagram is refused."""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from engine.bpmn.bundle import digest, read_form
from engine.store.config import REPO_ROOT
from engine.store.models import ProcessDefinition
from tests.conftest import CAST, RECTIFY_FORMS, People, deployment

API = "/api/v1"
BUNDLED = REPO_ROOT / "processes" / "rectification_item.bpmn"
KEY = "rectification_item"
MIWG = REPO_ROOT.parent / "shared" / "data" / "bpmn-miwg"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
PASSWD_LINE = re.compile(r"root:.*:0:0:")

# --- building diagrams ------------------------------------------------------------------------------------------------


def bundled() -> etree._Element:
    return etree.fromstring(BUNDLED.read_bytes())


def node(root: etree._Element, element: str) -> etree._Element:
    (found,) = root.xpath("//*[@id=$id]", id=element)
    return found


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def edited(edit: Callable[[etree._Element], Any]) -> bytes:
    root = bundled()
    edit(root)
    return to_bytes(root)


def set_property(element: etree._Element, name: str, value: str) -> None:
    props = element.find(f"{BPMN}extensionElements/{CAMUNDA}properties")
    if props is None:
        extension = element.find(f"{BPMN}extensionElements")
        if extension is None:
            extension = etree.Element(f"{BPMN}extensionElements")
            element.insert(0, extension)
        props = etree.SubElement(extension, f"{CAMUNDA}properties")
    for prop in props:
        if prop.get("name") == name:
            prop.set("value", value)
            return
    etree.SubElement(props, f"{CAMUNDA}property", name=name, value=value)


def add(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{BPMN}{tag}", **attributes)


def redesigned() -> bytes:
    """What a designer does in the modeler, no Python involved: rename the status of ``rectify`` and add an
    on-site check (with its own status) between an approving review and closing."""
    root = bundled()
    rectify = node(root, "rectify")
    set_property(rectify, "status", "rectifying")
    set_property(rectify, "status_label", "整改中 Rectifying")
    process = node(root, KEY)
    check = add(process, "userTask", id="on_site_check", name="现场核查 On-site check")
    set_property(check, "status", "on_site_check")
    set_property(check, "status_label", "现场核查中 On-site check")
    node(root, "flow_approve").set("targetRef", "on_site_check")
    add(process, "sequenceFlow", id="flow_to_closed", sourceRef="on_site_check", targetRef="closed")
    add(node(root, "reviewer"), "flowNodeRef").text = "on_site_check"
    return to_bytes(root)


# --- talking to the API -----------------------------------------------------------------------------------------------


def upload(
    client: FlaskClient,
    people: People,
    content: bytes,
    user: str = "designer",
    forms: Mapping[str, bytes] = RECTIFY_FORMS,
) -> TestResponse:
    return client.post(
        f"{API}/processes",
        data=deployment(content, forms),
        content_type="multipart/form-data",
        headers=people.auth(user),
    )


def bundle_sha256(content: bytes) -> str:
    """The version's hash: its diagram with the default lifecycle's forms."""
    return digest(content, {key: read_form(key, form) for key, form in RECTIFY_FORMS.items()})


def definitions(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ProcessDefinition)) or 0


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json or {}
    assert body["status"] == status
    assert body["detail"]
    return body


def create_item(client: FlaskClient, people: People) -> dict[str, Any]:
    response = client.post(
        f"{API}/items", json={"title": "窗口服务排队时间长", "department": "office"}, headers=people.auth("reporter")
    )
    assert response.status_code == 201, response.json
    return dict(response.json or {})


def complete(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    (task,) = item["tasks"]
    response = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(user))
    assert response.status_code == 200, response.json
    return response.json


# The default lifecycle's steps: who completes which task with what.
STEPS = {
    "define_measures": ("manager", {"measures": "增设自助取号机"}),
    "assign_owner": ("manager", {"owner": "owner"}),
    "rectify": ("owner", {"result": "已增设两台取号机"}),
    "review": ("approver", {"decision": "approve"}),
    "on_site_check": ("approver", {}),
}


def run_to_end(client: FlaskClient, people: People, item: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Complete the item's tasks one by one; the (task, status, label) seen at each step."""
    seen = []
    while item["tasks"]:
        name = item["tasks"][0]["name"]
        seen.append((name, item["status"], item["status_label"]))
        user, data = STEPS[name]
        item = complete(client, people, user, item, data)
    seen.append(("", item["status"], item["status_label"]))
    return seen


# --- versions ---------------------------------------------------------------------------------------------------------


def test_a_new_key_starts_at_version_1_and_identical_xml_returns_that_version(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    content = edited(lambda root: node(root, KEY).set("id", "complaint"))
    first = upload(client, people, content)
    assert first.status_code == 201, first.json
    assert first.json == {
        "key": "complaint",
        "version": 1,
        "name": "整改事项 Rectification item",
        "sha256": bundle_sha256(content),
        "deployed_at": first.json["deployed_at"],
        "deployed_by": "designer",
        "note": None,
    }
    assert first.headers["Location"].endswith(f"{API}/processes/complaint/1/bpmn")
    rows = definitions(sessions)

    again = upload(client, people, content)
    assert again.status_code == 200, again.json
    assert again.json == first.json
    assert definitions(sessions) == rows

    download = client.get(f"{API}/processes/complaint/1/bpmn", headers=people.auth("auditor"))
    assert download.status_code == 200
    assert download.mimetype == "application/xml"
    assert download.data == content


def test_a_changed_diagram_is_version_2_and_items_started_before_stay_on_version_1(
    client: FlaskClient, people: People
) -> None:
    old = create_item(client, people)
    old = complete(client, people, "manager", old, STEPS["define_measures"][1])
    assert old["process"] == {"key": KEY, "version": 1}

    deployed = upload(client, people, redesigned())
    assert deployed.status_code == 201, deployed.json
    assert (deployed.json["key"], deployed.json["version"]) == (KEY, 2)

    new = create_item(client, people)
    assert new["process"] == {"key": KEY, "version": 2}
    assert run_to_end(client, people, new) == [
        ("define_measures", "identified", "问题已识别 Identified"),
        ("assign_owner", "measures", "措施已制定 Measures defined"),
        ("rectify", "rectifying", "整改中 Rectifying"),
        ("review", "review", "审核中 In review"),
        ("on_site_check", "on_site_check", "现场核查中 On-site check"),
        ("", "closed", "已销号 Closed"),
    ]
    # The item started before goes on to the end on version 1: old status names, no on-site check.
    assert run_to_end(client, people, old) == [
        ("assign_owner", "measures", "措施已制定 Measures defined"),
        ("rectify", "owner", "责任人整改中 Owner rectifying"),
        ("review", "review", "审核中 In review"),
        ("", "closed", "已销号 Closed"),
    ]
    finished = client.get(f"{API}/items/{old['id']}", headers=people.auth("auditor")).json
    assert (finished["process"], finished["status"]) == ({"key": KEY, "version": 1}, "closed")

    listed = [
        p for p in client.get(f"{API}/processes", headers=people.auth("auditor")).json["processes"] if p["key"] == KEY
    ]
    assert [(p["key"], p["latest_version"], [v["version"] for v in p["versions"]]) for p in listed] == [
        (KEY, 2, [1, 2])
    ]
    assert listed[0]["versions"][1]["sha256"] == bundle_sha256(redesigned())
    for version, content in ((1, BUNDLED.read_bytes()), (2, redesigned())):
        download = client.get(f"{API}/processes/{KEY}/{version}/bpmn", headers=people.auth("auditor"))
        assert download.data == content


def test_redeploying_an_older_diagram_after_a_newer_one_makes_it_the_latest_again(
    client: FlaskClient, people: People
) -> None:
    assert upload(client, people, redesigned()).json["version"] == 2
    back = upload(client, people, BUNDLED.read_bytes())
    assert (back.status_code, back.json["version"]) == (201, 3)
    assert back.json["sha256"] == bundle_sha256(BUNDLED.read_bytes())
    item = create_item(client, people)
    assert item["process"] == {"key": KEY, "version": 3}
    assert run_to_end(client, people, item)[2] == ("rectify", "owner", "责任人整改中 Owner rectifying")


def test_statuses_come_from_the_diagram(client: FlaskClient, people: People) -> None:
    assert upload(client, people, redesigned()).status_code == 201
    item = create_item(client, people)
    for task in ("define_measures", "assign_owner"):
        item = complete(client, people, STEPS[task][0], item, STEPS[task][1])
    assert (item["status"], item["status_label"]) == ("rectifying", "整改中 Rectifying")
    listed = client.get(f"{API}/items?status=rectifying", headers=people.auth("auditor")).json
    assert [i["id"] for i in listed["items"]] == [item["id"]]
    for task in ("rectify", "review"):
        item = complete(client, people, STEPS[task][0], item, STEPS[task][1])
    assert (item["status"], [t["name"] for t in item["tasks"]]) == ("on_site_check", ["on_site_check"])
    events = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    assert [e["action"] for e in events[:2]] == ["created", "decision"]
    assert [(e["status_from"], e["status_to"]) for e in events[2:]] == [
        ("identified", "measures"),
        ("measures", "rectifying"),
        ("rectifying", "review"),
        ("review", "on_site_check"),
    ]


def test_a_task_inside_a_sub_process_takes_the_lane_of_its_sub_process(client: FlaskClient, people: People) -> None:
    """Modelers list only the sub-process in a lane, not the tasks drawn inside it."""

    def wrap_review(root: etree._Element) -> None:
        process, review = node(root, KEY), node(root, "review")
        block = add(process, "subProcess", id="review_block", name="审核 Review block")
        process.remove(review)
        add(block, "startEvent", id="review_block_start")
        block.append(review)
        add(block, "sequenceFlow", id="review_block_in", sourceRef="review_block_start", targetRef="review")
        add(block, "sequenceFlow", id="review_block_out", sourceRef="review", targetRef="review_block_end")
        add(block, "endEvent", id="review_block_end")
        node(root, "flow_to_review").set("targetRef", "review_block")
        node(root, "flow_to_decision").set("sourceRef", "review_block")
        (ref,) = node(root, "reviewer").xpath("./*[text()='review']")
        ref.text = "review_block"

    assert upload(client, people, edited(wrap_review)).status_code == 201
    item = create_item(client, people)
    for task in ("define_measures", "assign_owner", "rectify"):
        item = complete(client, people, STEPS[task][0], item, STEPS[task][1])
    assert [(t["name"], t["lane"], t["candidates"]) for t in item["tasks"]] == [
        ("review", "审核人 Reviewer", ["approver", "approver2", "owner_approver"])
    ]
    assert complete(client, people, "approver", item, {"decision": "approve"})["status"] == "closed"


def test_a_process_key_in_chinese_deploys_and_downloads(client: FlaskClient, people: People) -> None:
    content = edited(lambda root: node(root, KEY).set("id", "整改事项"))
    deployed = upload(client, people, content)
    assert (deployed.status_code, deployed.json["key"]) == (201, "整改事项"), deployed.json
    download = client.get(f"{API}/processes/整改事项/1/bpmn", headers=people.auth("auditor"))
    assert download.data == content
    disposition = download.headers["Content-Disposition"]
    disposition.encode("latin-1")  # an HTTP header: a server cannot send anything else
    assert "filename*=UTF-8''%E6%95%B4%E6%94%B9%E4%BA%8B%E9%A1%B9-v1.bpmn" in disposition
    item = client.post(
        f"{API}/items",
        json={"title": "t", "department": "office", "process": "整改事项"},
        headers=people.auth("reporter"),
    )
    assert item.json["process"] == {"key": "整改事项", "version": 1}


def test_an_unknown_version_is_404(client: FlaskClient, people: People) -> None:
    for url in (f"{API}/processes/{KEY}/2/bpmn", f"{API}/processes/nothing/1/bpmn", f"{API}/processes/{KEY}/0/bpmn"):
        assert_problem(client.get(url, headers=people.auth("auditor")), 404)


def test_concurrent_deployments_of_one_key_get_distinct_versions(live_server: str, people: People) -> None:
    """Designers saving at the same moment: each new diagram gets its own version, none fails."""
    racers = 6
    contents = [edited(lambda root, n=n: node(root, "rectify").set("name", f"整改落实 {n}")) for n in range(racers)]
    start = threading.Barrier(racers)

    def deploy(content: bytes) -> tuple[int, int]:
        with requests.Session() as http:
            start.wait(timeout=30)
            response = http.post(
                f"{live_server}{API}/processes",
                files=[("file", ("diagram.bpmn", content)), *(("form", form) for form in RECTIFY_FORMS.items())],
                headers=people.auth("designer"),
                timeout=60,
            )
            return response.status_code, response.json().get("version", 0)

    with ThreadPoolExecutor(racers) as pool:
        results = list(pool.map(deploy, contents))

    assert sorted(status for status, _ in results) == [201] * racers, results
    assert sorted(version for _, version in results) == list(range(2, racers + 2))


# --- refused diagrams -------------------------------------------------------------------------------------------------


def remove(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def second_executable_process(root: etree._Element) -> None:
    process = add(root, "process", id="other", isExecutable="true")
    add(process, "startEvent", id="other_start")


def lane_without_review(root: etree._Element) -> None:
    (ref,) = node(root, "reviewer").xpath("./*[text()='review']")
    remove(ref)


def error_end_event(root: etree._Element) -> None:
    add(node(root, "closed"), "errorEventDefinition", id="closed_error", errorRef="no_such_error")


def service_task(root: etree._Element) -> None:
    """The review's gateway made a service task, left with its one unconditional (default) flow."""
    node(root, "review_decision").tag = f"{BPMN}serviceTask"
    remove(node(root, "flow_reject"))
    remove(node(root, "flow_to_head"))


def call_of_a_missing_process(root: etree._Element) -> None:
    rectify = node(root, "rectify")
    rectify.tag = f"{BPMN}callActivity"
    rectify.set("calledElement", "approval")


def message_with_a_quote(root: etree._Element) -> None:
    """Valid XML ids, but the library builds an XPath query from them and crashes (XPathEvalError)."""
    add(root, "message", id='notice"1', name="notice")
    add(node(root, "start"), "messageEventDefinition", id="start_message", messageRef='notice"1')


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p" name="&xxe;" isExecutable="true"><startEvent id="s"/></process>
</definitions>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p" name="&lol9;"/></definitions>"""

# (case, the uploaded bytes, the element at fault or None, words the detail must contain)
REFUSED: list[tuple[str, Callable[[], bytes], str | None, str]] = [
    ("malformed XML", lambda: BUNDLED.read_bytes()[:-40], None, "Malformed XML"),
    ("not BPMN", lambda: b'<?xml version="1.0"?><html><body>hello</body></html>', None, "Not a BPMN 2.0 document"),
    ("empty file", lambda: b"", None, "Malformed XML"),
    (
        "no executable process",
        lambda: edited(lambda root: node(root, KEY).set("isExecutable", "false")),
        KEY,
        "No executable process",
    ),
    ("several executable processes", lambda: edited(second_executable_process), KEY, "Several executable processes"),
    ("user task in no lane", lambda: edited(lane_without_review), "review", "User task 'review' is in no lane"),
    (
        "lane names an unknown rule",
        lambda: edited(lambda root: set_property(node(root, "reviewer"), "candidates", "everyone")),
        "reviewer",
        "unknown candidates rule 'everyone'",
    ),
    (
        "form file missing",
        lambda: edited(lambda root: node(root, "rectify").set(f"{CAMUNDA}formKey", "missing.json")),
        "rectify",
        "Form 'missing.json' of user task 'rectify' is not in the bundle",
    ),
    (
        "form outside the bundle's forms",
        lambda: edited(lambda root: node(root, "rectify").set(f"{CAMUNDA}formKey", "../../etc/passwd")),
        "rectify",
        "must be a file name in forms/",
    ),
    (
        "form by absolute path",
        lambda: edited(lambda root: node(root, "rectify").set(f"{CAMUNDA}formKey", "/etc/passwd")),
        "rectify",
        "must be a file name in forms/",
    ),
    (
        "condition with a Python syntax error",
        lambda: edited(lambda root: setattr(node(root, "flow_reject")[0], "text", 'decision == = "reject"')),
        "flow_reject",
        "Invalid Python expression in 'flow_reject'",
    ),
    (
        # A pretty-printing modeler's output: the engine evaluates the text as written, and this fails.
        "condition on an indented new line",
        lambda: edited(lambda root: setattr(node(root, "flow_reject")[0], "text", '\n    decision == "reject"\n')),
        "flow_reject",
        "remove the line break or indentation",
    ),
    (
        "condition in FEEL",
        lambda: edited(lambda root: setattr(node(root, "flow_reject")[0], "text", '= decision = "reject"')),
        "flow_reject",
        "Rectiflow evaluates Python",
    ),
    (
        "condition in another language",
        lambda: edited(lambda root: node(root, "flow_reject")[0].set("language", "javascript")),
        "flow_reject",
        "language 'javascript'",
    ),
    (
        "sequence flow to a missing element",
        lambda: edited(lambda root: node(root, "flow_to_review").set("targetRef", "nowhere")),
        "flow_to_review",
        "goes to 'nowhere'",
    ),
    (
        "sequence flow from a missing element",
        lambda: edited(lambda root: node(root, "flow_to_review").set("sourceRef", "nowhere")),
        "flow_to_review",
        "starts at 'nowhere'",
    ),
    (
        "exclusive gateway flow without a condition",
        lambda: edited(lambda root: remove(node(root, "flow_reject")[0])),
        "flow_reject",
        "flow leaves a gateway without a condition",
    ),
    (
        "task with two outgoing flows",
        lambda: edited(
            lambda root: add(node(root, KEY), "sequenceFlow", id="shortcut", sourceRef="rectify", targetRef="closed")
        ),
        "rectify",
        "Several outgoing flows leave this element",
    ),
    (
        "duplicate ids",
        lambda: edited(lambda root: node(root, "assign_owner").set("id", "define_measures")),
        "define_measures",
        "Duplicate id 'define_measures'",
    ),
    ("end event naming a missing error", lambda: edited(error_end_event), "closed", "error 'no_such_error'"),
    ("element the engine cannot store", lambda: edited(service_task), "review_decision", "serviceTask"),
    (
        "call activity of a missing process",
        lambda: edited(call_of_a_missing_process),
        "rectify",
        "calls process 'approval', of which no version is deployed",
    ),
    (
        "status too long for the item",
        lambda: edited(lambda root: set_property(node(root, "rectify"), "status", "x" * 65)),
        "rectify",
        "at most 64",
    ),
    (
        "process id unusable as a key",
        lambda: edited(lambda root: node(root, KEY).set("id", "整改/事项")),
        "整改/事项",
        "cannot be a process key",
    ),
    (
        "reference the parser itself fails on",
        lambda: edited(message_with_a_quote),
        "start",
        "SpiffWorkflow could not parse it",
    ),
    ("DOCTYPE with an external entity (XXE)", lambda: XXE, None, "DOCTYPE"),
    ("billion laughs", lambda: BILLION_LAUGHS, None, "DOCTYPE"),
    ("not UTF-8", lambda: BUNDLED.read_text(encoding="utf-8").encode("gb18030"), None, "must be UTF-8 encoded"),
    ("UTF-16", lambda: BUNDLED.read_text(encoding="utf-8").encode("utf-16"), None, "must be UTF-8"),
    ("neither XML nor a zip", lambda: "ßﵒ".encode(), None, "neither a BPMN (XML) diagram nor a bundle's .zip"),
]


@pytest.mark.parametrize(("case", "content", "element", "words"), REFUSED, ids=[case[0] for case in REFUSED])
def test_a_bad_diagram_is_refused_with_422_naming_the_element_and_changes_nothing(
    client: FlaskClient,
    people: People,
    sessions: sessionmaker[Session],
    case: str,
    content: Callable[[], bytes],
    element: str | None,
    words: str,
) -> None:
    before = definitions(sessions)
    response = upload(client, people, content())
    body = assert_problem(response, 422)
    assert words in body["detail"], body
    if element is not None:
        assert element in [error["element"] for error in body["errors"]], body
        assert all(error["message"] for error in body["errors"])
    assert not PASSWD_LINE.search(response.get_data(as_text=True))
    assert definitions(sessions) == before


def test_a_data_object_the_parser_cannot_resolve_is_refused_instead_of_hanging(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    """SpiffWorkflow's parser loops forever on this (a worker stuck at 100% CPU); it must be a quick 422."""

    def edit(root: etree._Element) -> None:
        process = node(root, KEY)
        sub = add(process, "subProcess", id="paperwork")
        add(sub, "startEvent", id="paperwork_start")
        add(sub, "sequenceFlow", id="paperwork_flow", sourceRef="paperwork_start", targetRef="file_report")
        task = add(sub, "task", id="file_report")
        association = add(task, "dataOutputAssociation", id="report_out")
        add(association, "targetRef").text = "report_ref"
        add(sub, "dataObjectReference", id="report_ref", dataObjectRef="report")
        add(sub, "sequenceFlow", id="paperwork_done", sourceRef="file_report", targetRef="paperwork_end")
        add(sub, "endEvent", id="paperwork_end")
        node(root, "flow_approve").set("targetRef", "paperwork")
        add(process, "sequenceFlow", id="flow_paperwork_closed", sourceRef="paperwork", targetRef="closed")

    content = edited(edit)
    before = definitions(sessions)
    responses: list[TestResponse] = []
    worker = threading.Thread(target=lambda: responses.append(upload(client, people, content)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the deployment hangs"
    body = assert_problem(responses[0], 422)
    assert [e["element"] for e in body["errors"]] == ["file_report"]
    assert "'report'" in body["detail"]
    assert definitions(sessions) == before


def test_an_upload_over_5_mb_is_413(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> None:
    before = definitions(sessions)
    padding = b"<!--" + b"x" * (5 * 1024 * 1024) + b"-->"
    # Encoded in memory: the test client would spool a body this large to a temporary file that it
    # never closes when the server refuses to read it.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(BUNDLED.read_bytes() + padding), "big.bpmn")})
    response = client.post(
        f"{API}/processes",
        data=body,
        content_type=f'multipart/form-data; boundary="{boundary}"',
        headers=people.auth("designer"),
    )
    assert_problem(response, 413)
    assert definitions(sessions) == before


def test_a_request_without_a_file_is_422_naming_file(client: FlaskClient, people: People) -> None:
    for data in ({}, {"upload": (io.BytesIO(BUNDLED.read_bytes()), "diagram.bpmn")}):
        response = client.post(
            f"{API}/processes", data=data, content_type="multipart/form-data", headers=people.auth("designer")
        )
        body = assert_problem(response, 422)
        assert "file" in [error["field"] for error in body["errors"]]


@pytest.mark.parametrize("user", [name for name, (_, roles) in CAST.items() if "designer" not in roles])
def test_only_designers_deploy_even_when_they_send_garbage(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], user: str
) -> None:
    before = definitions(sessions)
    assert_problem(upload(client, people, redesigned(), user=user), 403)
    assert_problem(upload(client, people, XXE, user=user), 403)
    garbage = client.post(f"{API}/processes", data=b"\xff\xfe{", content_type="text/plain", headers=people.auth(user))
    assert_problem(garbage, 403)
    assert definitions(sessions) == before


def test_without_a_token_every_process_endpoint_is_401(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    before = definitions(sessions)
    deploy = client.post(
        f"{API}/processes",
        data={"file": (io.BytesIO(redesigned()), "diagram.bpmn")},
        content_type="multipart/form-data",
    )
    assert_problem(deploy, 401)
    assert_problem(client.get(f"{API}/processes"), 401)
    assert_problem(client.get(f"{API}/processes/{KEY}/1/bpmn"), 401)
    assert definitions(sessions) == before


# --- real-world input: the BPMN MIWG reference models -----------------------------------------------------------------


def miwg_files() -> list[Any]:
    if MIWG.is_dir():
        return sorted(MIWG.glob("*.bpmn"))
    return [pytest.param(None, id="missing")]


@pytest.mark.parametrize("path", miwg_files(), ids=lambda path: path.name if isinstance(path, Path) else "missing")
def test_every_miwg_reference_model_is_deployed_or_refused_with_a_reason(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], path: Path | None
) -> None:
    if path is None:
        message = f"the BPMN MIWG reference models are not at {MIWG}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    content = path.read_bytes()
    before = definitions(sessions)
    response = upload(client, people, content, forms={})
    if response.status_code in (200, 201):
        deployed = response.json or {}
        download = client.get(
            f"{API}/processes/{deployed['key']}/{deployed['version']}/bpmn", headers=people.auth("auditor")
        )
        assert download.data == content
        return
    body = assert_problem(response, 422)
    assert "Internal" not in body["detail"]
    assert definitions(sessions) == before
    ids = set(etree.fromstring(content).xpath("//@id"))
    for error in body.get("errors", []):
        # Each element named is one the designer can find in the file.
        assert error["element"] in ids, error
        assert error["message"]
