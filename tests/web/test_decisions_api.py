"""DMN decisions: deployed alone or in a bundle, bound as Camunda binds, evaluated in the sandbox, in the history."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from engine.bpmn.bundle import Bundle, from_zip, to_zip
from tests.conftest import People, serve
from tests.engine.bpmn.test_dmn import DMN_NS, EXAMPLE, EXAMPLES, rule, table
from web.cli import main

API = "/api/v1"
V1 = table(rule("high", '"high"', "7") + rule("low", '"low"', "30"))
V2 = table(rule("high", '"high"', "3") + rule("low", '"low"', "20"))


def deploy_dmn(client: FlaskClient, people: People, content: bytes, user: str = "designer") -> Any:
    return client.post(
        f"{API}/decisions",
        data={"file": (io.BytesIO(content), "rules.dmn")},
        headers=people.auth(user),
        content_type="multipart/form-data",
    )


def deploy_bundle(client: FlaskClient, people: People, bundle: Bundle) -> Any:
    data = {"file": (io.BytesIO(to_zip(bundle, "diagram.bpmn")), "bundle.zip")}
    return client.post(f"{API}/processes", data=data, headers=people.auth("designer"))


def evaluate(client: FlaskClient, people: People, key: str, user: str = "designer", **body: Any) -> Any:
    return client.post(f"{API}/decisions/{key}/evaluate", json=body, headers=people.auth(user))


def history(client: FlaskClient, people: People, item_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"{API}/items/{item_id}/history", headers=people.auth("auditor")).json[
        "events"
    ]
    return events


def test_deploying_versions_a_decision_and_an_identical_file_repeats_the_latest(
    client: FlaskClient, people: People
) -> None:
    first = deploy_dmn(client, people, V1)
    assert first.status_code == 201, first.json
    (deployed,) = first.json["decisions"]
    assert {k: deployed[k] for k in ("key", "version", "name", "hit_policy", "rules", "created", "deployed_by")} == {
        "key": "days_rule",
        "version": 1,
        "name": "Days",
        "hit_policy": "UNIQUE",
        "rules": 2,
        "created": True,
        "deployed_by": "designer",
    }
    assert deployed["inputs"] == [
        {"id": "in_severity", "label": "Severity", "expression": "severity", "type": "string"}
    ]
    assert deployed["outputs"] == [{"id": "out_days", "label": "Days", "name": "days", "type": "integer"}]
    assert first.headers["Location"].endswith("/decisions/days_rule/1/dmn")

    again = deploy_dmn(client, people, V1)
    assert (again.status_code, again.json["decisions"][0]["version"], again.json["decisions"][0]["created"]) == (
        200,
        1,
        False,
    )
    assert deploy_dmn(client, people, V2).json["decisions"][0]["version"] == 2
    # Redeploying the first content after the second makes it the latest again, as with processes.
    assert deploy_dmn(client, people, V1).json["decisions"][0]["version"] == 3

    listed = client.get(f"{API}/decisions", headers=people.auth("approver")).json["decisions"]
    # The latest version of each key: ours, and the default lifecycle's own table, deployed with it.
    assert [(d["key"], d["version"]) for d in listed] == [("days_rule", 3), ("deadline_rule", 1)]
    versions = client.get(f"{API}/decisions/days_rule", headers=people.auth("designer")).json["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    xml = client.get(f"{API}/decisions/days_rule/2/dmn", headers=people.auth("designer"))
    assert (xml.status_code, xml.mimetype, xml.data) == (200, "application/xml", V2)
    assert client.get(f"{API}/decisions/days_rule/9/dmn", headers=people.auth("designer")).status_code == 404
    missing = client.get(f"{API}/decisions/nothing", headers=people.auth("designer"))
    assert (missing.status_code, missing.mimetype) == (404, "application/problem+json")


def test_a_file_with_several_decisions_deploys_each(client: FlaskClient, people: People) -> None:
    response = deploy_dmn(client, people, EXAMPLE.decisions["decision_table.dmn"])
    assert response.status_code == 201, response.json
    assert [(d["key"], d["hit_policy"], d["rules"]) for d in response.json["decisions"]] == [
        ("example_deadline", "UNIQUE", 4),
        ("notify_rule", "COLLECT", 3),
    ]


def refused(client: FlaskClient, people: People, content: bytes) -> dict[str, Any]:
    response = deploy_dmn(client, people, content)
    assert (response.status_code, response.mimetype) == (422, "application/problem+json"), response.json
    body: dict[str, Any] = response.json
    return body


def test_a_table_that_cannot_be_used_is_refused_naming_its_element(client: FlaskClient, people: People) -> None:
    assert refused(client, people, b"<definitions")["errors"][0]["code"] == "dmn-invalid"
    no_table = f'<definitions xmlns="{DMN_NS}" id="d"><decision id="empty"/></definitions>'.encode()
    assert refused(client, people, no_table)["errors"][0] == {
        "element": "empty",
        "code": "dmn-no-table",
        "severity": "error",
        "message": refused(client, people, no_table)["errors"][0]["message"],
        "line": None,
    }
    policy = refused(client, people, table(rule("r", '"high"', "1"), hit_policy="RULE ORDER"))
    assert policy["errors"][0]["element"] == "days_rule"
    assert "RULE ORDER" in policy["detail"] and "UNIQUE, FIRST, COLLECT" in policy["detail"]
    hostile = refused(client, people, table(rule("evil", "__import__('os').system('true')", "1")))
    assert (hostile["errors"][0]["element"], hostile["errors"][0]["code"]) == ("evil", "dmn-expression")
    assert "not allowed" in hostile["detail"]
    hostile_output = refused(client, people, table(rule("evil_out", '"high"', "open('/etc/passwd').read()")))
    assert hostile_output["errors"][0]["element"] == "evil_out"
    bad_input = table(
        rule("r", '"high"', "1"),
        inputs='<input id="in_bad" label="Bad"><inputExpression id="ie"><text>severity +</text>'
        "</inputExpression></input>",
    )
    assert refused(client, people, bad_input)["errors"][0]["element"] == "in_bad"
    feel_range = refused(client, people, table(rule("range", "[1..5]", "1")))
    assert feel_range["errors"][0]["element"] == "range" and "1 <= ? <= 5" in feel_range["detail"]
    # Nothing refused was stored: only the default lifecycle's own table is there.
    listed = client.get(f"{API}/decisions", headers=people.auth("designer")).json["decisions"]
    assert [(d["key"], d["version"]) for d in listed] == [("deadline_rule", 1)]


def test_designers_try_a_table_deployed_or_draft_on_inputs(client: FlaskClient, people: People) -> None:
    deploy_dmn(client, people, EXAMPLE.decisions["decision_table.dmn"])
    unique = evaluate(client, people, "example_deadline", inputs={"category": "safety", "severity": "high"})
    assert unique.status_code == 200, unique.json
    assert unique.json == {
        "key": "example_deadline",
        "version": 1,
        "hit_policy": "UNIQUE",
        "inputs": {"类别 Category": "safety", "严重程度 Severity": "high"},
        "matched_rules": ["safety_high"],
        "outputs": {"days": 7, "second_approver": True},
        "problem": None,
    }
    collect = evaluate(client, people, "notify_rule", user="approver", inputs={"severity": "medium"})
    assert (collect.json["matched_rules"], collect.json["outputs"]) == (
        ["notify_office", "notify_heads"],
        [{"notify": "office"}, {"notify": "unit_heads"}],
    )
    none = evaluate(client, people, "example_deadline", inputs={"category": "safety", "severity": "unknown"})
    assert (none.status_code, none.json["outputs"], none.json["matched_rules"]) == (200, None, [])
    assert "No rule" in none.json["problem"]

    first = table(rule("any", "-", "1") + rule("high", '"high"', "2"), hit_policy="FIRST")
    found = evaluate(client, people, "days_rule", inputs={"severity": "high"}, dmn=first.decode())
    assert found.json | {"inputs": None} == {
        "key": "days_rule",
        "version": None,
        "hit_policy": "FIRST",
        "inputs": None,
        "matched_rules": ["any"],
        "outputs": {"days": 1},
        "problem": None,
    }
    several = evaluate(
        client, people, "days_rule", inputs={"severity": "high"}, dmn=first.decode().replace("FIRST", "UNIQUE")
    )
    assert several.json["matched_rules"] == ["any", "high"] and "UNIQUE" in several.json["problem"]
    assert client.get(f"{API}/decisions/days_rule", headers=people.auth("designer")).status_code == 404  # not stored

    missing_input = evaluate(client, people, "example_deadline", inputs={"category": "safety"})
    assert missing_input.status_code == 422
    assert missing_input.json["errors"][0]["field"] == "inputs" and "severity" in missing_input.json["detail"]
    assert evaluate(client, people, "example_deadline", inputs=[1]).status_code == 422
    assert evaluate(client, people, "example_deadline", inputs={}, version=5).status_code == 404
    assert evaluate(client, people, "nothing", inputs={}).status_code == 404
    draft_refused = evaluate(
        client, people, "days_rule", inputs={}, dmn=table(rule("evil", "__import__('os')", "1")).decode()
    )
    assert (draft_refused.status_code, draft_refused.json["errors"][0]["element"]) == (422, "evil")
    wrong_key = evaluate(client, people, "other", inputs={}, dmn=V1.decode())
    assert (wrong_key.status_code, wrong_key.json["errors"][0]["field"]) == (422, "dmn")


def test_the_sandbox_runs_a_table_s_expressions(client: FlaskClient, people: People) -> None:
    """What compiles may still try its luck at run time: it runs in the sandbox, and fails there as an input error."""
    deploy_dmn(client, people, table(rule("big", "-", "severity * 10**9")))
    found = evaluate(client, people, "days_rule", inputs={"severity": "high"})
    assert found.status_code == 422
    assert "too large" in found.json["detail"]


def test_who_may_deploy_read_and_try_decisions(client: FlaskClient, people: People) -> None:
    for user in ("admin", "approver", "reporter", "manager", "auditor"):
        assert deploy_dmn(client, people, V1, user=user).status_code == 403
    assert deploy_dmn(client, people, V1).status_code == 201
    for user in ("designer", "admin", "approver", "auditor"):
        assert client.get(f"{API}/decisions/days_rule", headers=people.auth(user)).status_code == 200
        assert evaluate(client, people, "days_rule", user=user, inputs={"severity": "low"}).status_code == 200
    for user in ("reporter", "manager", "owner"):
        assert client.get(f"{API}/decisions", headers=people.auth(user)).status_code == 403
        assert client.get(f"{API}/decisions/days_rule/1/dmn", headers=people.auth(user)).status_code == 403
        assert evaluate(client, people, "days_rule", user=user, inputs={}).status_code == 403


def start(client: FlaskClient, people: People, process: str = "decision_table") -> dict[str, Any]:
    created = client.post(
        f"{API}/items",
        json={"title": "决策", "department": "office", "process": process},
        headers=people.auth("reporter"),
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    return body


def complete(client: FlaskClient, people: People, item: dict[str, Any], data: dict[str, Any], user: str) -> Any:
    (task,) = item["tasks"]
    return client.post(f"{API}/tasks/{task['id']}/complete", json={"data": data}, headers=people.auth(user))


def test_the_example_deploys_as_a_bundle_and_runs_to_the_end(client: FlaskClient, people: People) -> None:
    deployed = deploy_bundle(client, people, EXAMPLE)
    assert deployed.status_code == 201, deployed.json
    versions = client.get(f"{API}/decisions", headers=people.auth("designer")).json["decisions"]
    assert [(d["key"], d["version"], d["deployed_with"]) for d in versions] == [
        ("deadline_rule", 1, {"key": "rectification_item", "version": 1}),  # the default lifecycle's
        ("example_deadline", 1, {"key": "decision_table", "version": 1}),
        ("notify_rule", 1, {"key": "decision_table", "version": 1}),
    ]
    assert deploy_bundle(client, people, EXAMPLE).status_code == 200  # the same bundle: nothing new

    item = start(client, people)
    done = complete(client, people, item, {"category": "safety", "severity": "high"}, "manager")
    assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["data"]["days"], done.json["data"]["second_approver"]) == (
        "reviewing",
        7,
        True,
    )
    assert done.json["data"]["notify"] == ["office", "unit_heads", "leaders"]
    closed = complete(client, people, done.json, {"comment": "同意"}, "approver")
    assert (closed.status_code, closed.json["status"]) == (200, "closed")

    other = start(client, people)
    quick = complete(client, people, other, {"category": "quality", "severity": "low"}, "manager")
    assert (quick.json["status"], quick.json["data"]["days"], quick.json["data"]["notify"]) == (
        "closed",
        30,
        ["office"],
    )

    decided = [e for e in history(client, people, item["id"]) if e["action"] == "decision"]
    assert [(e["task"], e["actor"]) for e in decided] == [("decide_deadline", None), ("decide_notify", None)]
    assert decided[0]["data"] == {
        "decision": "example_deadline",
        "version": 1,
        "hit_policy": "UNIQUE",
        "inputs": {"类别 Category": "safety", "严重程度 Severity": "high"},
        "matched_rules": ["safety_high"],
        "outputs": {"days": 7, "second_approver": True},
    }
    assert decided[1]["data"]["outputs"] == [{"notify": "office"}, {"notify": "unit_heads"}, {"notify": "leaders"}]
    report = client.get(f"{API}/audit/verify", headers=people.auth("auditor")).json
    assert (report["ok"], report["problem_count"]) == (True, 0)


def test_a_bundle_downloads_with_its_decisions_and_a_result_variable_holds_the_outputs(
    client: FlaskClient, people: People
) -> None:
    told = EXAMPLE.diagram.replace(
        b'camunda:decisionRef="notify_rule"', b'camunda:decisionRef="notify_rule" camunda:resultVariable="told"'
    )
    assert deploy_bundle(client, people, Bundle(told, EXAMPLE.forms, EXAMPLE.decisions)).status_code == 201
    zipped = client.get(f"{API}/processes/decision_table/1/bundle.zip", headers=people.auth("designer"))
    assert from_zip(zipped.data, 10**6).decisions == EXAMPLE.decisions
    again = client.post(
        f"{API}/processes", data={"file": (io.BytesIO(zipped.data), "again.zip")}, headers=people.auth("designer")
    )
    assert (again.status_code, again.json["version"]) == (200, 1)

    item = classify(client, people, start(client, people))
    assert "notify" not in item["data"]
    assert item["data"]["told"] == [{"notify": "office"}, {"notify": "unit_heads"}, {"notify": "leaders"}]


def diagram(binding: str = "") -> bytes:
    """The example's diagram with ``decide_deadline`` bound by ``binding`` (Camunda's attributes, as written)."""
    return EXAMPLE.diagram.replace(
        b'camunda:decisionRef="example_deadline"', f'camunda:decisionRef="example_deadline" {binding}'.encode()
    )


def deadline_table(safety_high_days: int) -> bytes:
    return EXAMPLE.decisions["decision_table.dmn"].replace(
        b"<text>7</text>", f"<text>{safety_high_days}</text>".encode()
    )


def classify(client: FlaskClient, people: People, item: dict[str, Any]) -> Any:
    done = complete(client, people, item, {"category": "safety", "severity": "high"}, "manager")
    assert done.status_code == 200, done.json
    return done.json


def test_latest_binding_takes_the_version_deployed_when_the_task_runs(client: FlaskClient, people: People) -> None:
    assert deploy_bundle(client, people, EXAMPLE).status_code == 201
    a = classify(client, people, start(client, people))
    assert a["data"]["days"] == 7
    waiting = start(client, people)  # started before v2, reaches the task after it
    assert deploy_dmn(client, people, deadline_table(5)).json["decisions"][0]["version"] == 2
    b = classify(client, people, waiting)
    assert b["data"]["days"] == 5
    again = client.get(f"{API}/items/{a['id']}", headers=people.auth("manager")).json
    assert again["data"]["days"] == 7  # already past the task: unchanged
    versions = [e["data"]["version"] for e in history(client, people, b["id"]) if e["task"] == "decide_deadline"]
    assert versions == [2]


def test_version_and_deployment_bindings_keep_their_version(client: FlaskClient, people: People) -> None:
    pinned = Bundle(diagram('camunda:decisionRefBinding="version" camunda:decisionRefVersion="1"'), EXAMPLE.forms)
    assert deploy_bundle(client, people, Bundle(pinned.diagram, pinned.forms, EXAMPLE.decisions)).status_code == 201
    # Both decisions of the file get a version 2: 5 days, and the registry told instead of the office.
    changed = deadline_table(5).replace(b'"office"', b'"registry"')
    assert [d["version"] for d in deploy_dmn(client, people, changed).json["decisions"]] == [2, 2]
    item = classify(client, people, start(client, people))
    assert (item["data"]["days"], item["data"]["notify"]) == (7, ["office", "unit_heads", "leaders"])
    decided = {
        e["task"]: e["data"]["version"] for e in history(client, people, item["id"]) if e["action"] == "decision"
    }
    assert decided == {"decide_deadline": 1, "decide_notify": 1}
    assert evaluate(client, people, "example_deadline", inputs={"category": "safety", "severity": "high"}).json[
        "outputs"
    ] == {"days": 5, "second_approver": True}


def test_a_decision_ref_that_resolves_nowhere_is_refused_naming_the_task(client: FlaskClient, people: People) -> None:
    bare = Bundle(EXAMPLE.diagram, EXAMPLE.forms)
    response = deploy_bundle(client, people, bare)
    assert response.status_code == 422
    elements = {(e["element"], e["code"]) for e in response.json["errors"]}
    assert elements == {("decide_deadline", "decision-unknown"), ("decide_notify", "decision-unknown")}
    deploy_dmn(client, people, EXAMPLE.decisions["decision_table.dmn"])
    # Deployed on its own: a latest binding finds it; a deployment binding still needs it in the bundle.
    again = deploy_bundle(client, people, bare)
    assert [(e["element"], e["code"]) for e in again.json["errors"]] == [("decide_notify", "decision-unknown")]
    bad_binding = Bundle(diagram('camunda:decisionRefBinding="sometimes"'), EXAMPLE.forms, EXAMPLE.decisions)
    assert deploy_bundle(client, people, bad_binding).json["errors"][0]["element"] == "decide_deadline"
    broken = Bundle(
        EXAMPLE.diagram, EXAMPLE.forms, {"decision_table.dmn": table(rule("evil", "__import__('os')", "1"))}
    )
    refused_bundle = deploy_bundle(client, people, broken)
    assert refused_bundle.status_code == 422
    assert ("evil", "dmn-expression") in {(e["element"], e["code"]) for e in refused_bundle.json["errors"]}


def test_no_matching_rule_is_an_incident_of_the_task_and_a_retry_with_data_resolves_it(
    client: FlaskClient, people: People
) -> None:
    narrow = EXAMPLE.decisions["decision_table.dmn"].replace(b'"low", "medium"', b'"low"')
    assert deploy_bundle(client, people, Bundle(EXAMPLE.diagram, EXAMPLE.forms, {"d.dmn": narrow})).status_code == 201
    item = start(client, people)
    stuck = complete(client, people, item, {"category": "safety", "severity": "medium"}, "manager").json
    assert stuck["incident"]["element"] == "decide_deadline"
    assert stuck["incident"]["message"].startswith(
        "脚本或表达式出错 没有规则匹配 No rule of decision 'example_deadline'"
    )
    assert stuck["tasks"] == []
    incident = stuck["incident"]["id"]
    retried = client.post(
        f"{API}/items/{item['id']}/incidents/{incident}/retry",
        json={"data": {"severity": "low"}},
        headers=people.auth("admin"),
    )
    assert retried.status_code == 200, retried.json
    assert retried.json["resolved_by"] == "admin"
    now = client.get(f"{API}/items/{item['id']}", headers=people.auth("manager")).json
    assert (now["data"]["days"], now["status"], now["incident"]) == (15, "closed", None)


def test_an_item_past_a_business_rule_task_survives_a_restart(
    database_url: str, people: People, tmp_path: Path
) -> None:
    zipped = {"file": ("bundle.zip", to_zip(EXAMPLE, "decision_table.bpmn"))}
    with serve(database_url, tmp_path) as base:
        assert requests.post(f"{base}{API}/processes", files=zipped, headers=people.auth("designer"), timeout=30).ok
        item = requests.post(
            f"{base}{API}/items",
            json={"title": "重启", "department": "office", "process": "decision_table"},
            headers=people.auth("reporter"),
            timeout=30,
        ).json()
        (task,) = item["tasks"]
        data = {"data": {"category": "environment", "severity": "high"}}
        done = requests.post(
            f"{base}{API}/tasks/{task['id']}/complete", json=data, headers=people.auth("manager"), timeout=30
        )
        assert done.json()["data"]["days"] == 15

    with serve(database_url, tmp_path) as base:
        again = requests.get(f"{base}{API}/items/{item['id']}", headers=people.auth("manager"), timeout=30).json()
        assert (again["status"], again["data"]["days"], again["data"]["second_approver"]) == ("reviewing", 15, True)
        (task,) = again["tasks"]
        closed = requests.post(
            f"{base}{API}/tasks/{task['id']}/complete", json={"data": {}}, headers=people.auth("approver"), timeout=30
        )
        assert closed.json()["status"] == "closed"


def test_several_matches_under_unique_or_a_sandbox_failure_is_an_incident_of_the_task(
    client: FlaskClient, people: People
) -> None:
    overlapping = EXAMPLE.decisions["decision_table.dmn"].replace(b'<text>"low", "medium"</text>', b"<text>-</text>")
    assert (
        deploy_bundle(client, people, Bundle(EXAMPLE.diagram, EXAMPLE.forms, {"d.dmn": overlapping})).status_code == 201
    )
    stuck = complete(client, people, start(client, people), {"category": "safety", "severity": "high"}, "manager")
    incident = stuck.json["incident"]
    assert incident["element"] == "decide_deadline"
    assert "'safety_high', 'safety_other'" in incident["message"] and "UNIQUE" in incident["message"]

    greedy = EXAMPLE.decisions["decision_table.dmn"].replace(b"<text>7</text>", b"<text>severity * 10**9</text>")
    deploy_dmn(client, people, greedy)  # the latest version now, which the example's task takes
    failed = complete(client, people, start(client, people), {"category": "safety", "severity": "high"}, "manager")
    assert failed.json["incident"]["element"] == "decide_deadline"
    assert "too large" in failed.json["incident"]["message"]
    assert [e["action"] for e in history(client, people, failed.json["id"])][-1] == "incident"


def test_the_example_lints_clean_with_the_dmn_beside_it() -> None:
    """`rectiflow lint` takes the .dmn files beside a diagram, and knows the variables their outputs set."""
    result = CliRunner().invoke(main, ["lint", str(EXAMPLES / "decision_table.bpmn")])
    assert (result.exit_code, result.stdout) == (0, ""), result.output
