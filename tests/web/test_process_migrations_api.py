"""Migrating running items over HTTP: a designer tries and asks, another person confirms; roles stay in their lane."""

from __future__ import annotations

import threading
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from engine.deadlines.worker import Worker
from tests.conftest import People
from tests.web.test_login import admin_log
from tests.web.test_process_versions_api import deploy_version_2
from tests.web.test_processes_api import API, KEY, assert_problem, complete, create_item

MIGRATIONS = f"{API}/processes/{KEY}/migrations"


def ask(client: FlaskClient, people: People, user: str = "designer", **body: Any) -> TestResponse:
    return client.post(MIGRATIONS, json={"to_version": 2, **body}, headers=people.auth(user))


def at_review(client: FlaskClient, people: People) -> dict[str, Any]:
    item = create_item(client, people)
    item = complete(client, people, "manager", item, {"measures": "增设取号机"})
    item = complete(client, people, "manager", item, {"owner": "owner"})
    return dict(complete(client, people, "owner", item, {"result": "已增设"}))


def test_a_designer_asks_an_approver_confirms_the_worker_moves_and_the_item_goes_on_on_the_new_version(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = at_review(client, people)
    deploy_version_2(client, people)

    tried = ask(client, people, from_version=1, dry_run=True)
    assert tried.status_code == 200, tried.json
    ((row,),) = [tried.json["items"]]
    # The step, and the deadline watches' timers waiting beside it.
    steps = [{"from": step, "to": step} for step in ("review", "deadline_warning", "deadline_overdue")]
    assert (row["item"], row["outcome"], row["moved"]) == (item["id"], "moves", steps)
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json["process"]["version"] == 1

    asked = ask(client, people, from_version=1, note="加现场核查")
    assert asked.status_code == 201, asked.json
    assert asked.headers["Location"].endswith(f"/migrations/{asked.json['id']}")
    assert (asked.json["state"], asked.json["requested_by"], asked.json["to_version"]) == ("requested", "designer", 2)
    url = f"{MIGRATIONS}/{asked.json['id']}"

    for user in ("designer", "manager", "auditor", "owner"):  # the asker, and people who may not confirm
        assert_problem(client.post(f"{url}/confirm", headers=people.auth(user)), 403)
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json["process"]["version"] == 1

    confirmed = client.post(f"{url}/confirm", headers=people.auth("approver"))
    assert confirmed.status_code == 202, confirmed.json
    assert (confirmed.json["state"], confirmed.json["decided_by"]) == ("running", "approver")
    assert_problem(client.post(f"{url}/confirm", headers=people.auth("admin")), 409)
    Worker(sessions, "test").run_until(threading.Event(), 0, until_idle=True)
    done = client.get(url, headers=people.auth("auditor")).json
    assert (done["state"], [row["outcome"] for row in done["items"]]) == ("done", ["moved"])
    assert_problem(client.post(f"{url}/decline", headers=people.auth("admin")), 409)

    moved = client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json
    assert moved["process"]["version"] == 2
    # Version 2's on-site check now follows an approving review.
    after = complete(client, people, "approver", moved, {"decision": "approve"})
    assert [task["name"] for task in after["tasks"]] == ["on_site_check"]
    history = client.get(f"{API}/items/{item['id']}/history", headers=people.auth("auditor")).json["events"]
    (migrated,) = [event for event in history if event["action"] == "migrated"]
    assert (migrated["actor"], migrated["data"]["from"]["version"], migrated["data"]["to"]["version"]) == (
        "approver",
        1,
        2,
    )
    logged = [(entry["action"], entry["actor"]) for entry in admin_log(client, people)]
    logged = [(action, actor) for action, actor in logged if action.startswith("migration.")]
    assert logged == [("migration.done", None), ("migration.confirm", "approver"), ("migration.request", "designer")]

    listed = client.get(MIGRATIONS, headers=people.auth("auditor"))
    assert [m["id"] for m in listed.json["migrations"]] == [asked.json["id"]]
    assert_problem(client.get(MIGRATIONS, headers=people.auth("owner")), 403)


def test_bad_asks_name_their_field_and_only_designers_and_admins_ask(client: FlaskClient, people: People) -> None:
    item = at_review(client, people)
    deploy_version_2(client, people)

    for user in ("approver", "auditor", "manager"):
        assert_problem(ask(client, people, user, from_version=1), 403)
    for body, field in [
        ({"from_version": 1, "to_version": 7}, "to_version"),
        ({"from_version": 2}, "from_version"),
        ({"items": [item["id"], 424242]}, "items"),
        ({"from_version": 1, "mapping": {"review": "nowhere"}}, "mapping.review"),
    ]:
        refused = assert_problem(ask(client, people, **body), 422)
        assert [error["field"] for error in refused["errors"]] == [field], refused
    # The limits promised: at most 10,000 items and 1,000 mapped elements in one migration.
    too_many = assert_problem(ask(client, people, items=list(range(1, 10_002))), 422)
    assert [error["field"] for error in too_many["errors"]] == ["items"]
    mapping = {f"step_{n}": "review" for n in range(1001)}
    too_wide = assert_problem(ask(client, people, from_version=1, mapping=mapping), 422)
    assert [error["field"] for error in too_wide["errors"]] == ["mapping"]
    both = assert_problem(ask(client, people, from_version=1, items=[item["id"]]), 422)
    assert "items" in str(both["errors"])
    assert_problem(client.post(f"{MIGRATIONS}/999/confirm", headers=people.auth("approver")), 404)

    asked = ask(client, people, items=[item["id"]]).json
    declined = client.post(f"{MIGRATIONS}/{asked['id']}/decline", headers=people.auth("approver"))
    assert (declined.status_code, declined.json["state"]) == (200, "declined")
    assert_problem(client.post(f"{MIGRATIONS}/{asked['id']}/confirm", headers=people.auth("admin")), 409)
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("auditor")).json["process"]["version"] == 1
