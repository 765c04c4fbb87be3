"""``Idempotency-Key`` on the API's creating POSTs and completions: a retry gets the first response, does nothing."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from engine.store.models import Department, ExtensionRequest, HistoryEvent, IdempotencyKey, Item, ProgressUpdate
from tests import workbooks
from tests.conftest import People
from tests.web.test_extensions import at_rectify

ITEM = {"title": "窗口排队时间长", "department": "office"}
RACERS = 6


def keyed(people: People, user: str, key: str) -> dict[str, str]:
    return {**people.auth(user), "Idempotency-Key": key}


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_same_key_twice_creates_one_item_and_answers_the_same(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    first = client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", "k-1"))
    again = client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", "k-1"))

    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(sessions, Item) == 1


def test_without_a_key_each_post_creates(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> None:
    for _ in range(2):
        assert client.post("/api/v1/items", json=ITEM, headers=people.auth("reporter")).status_code == 201
    assert count(sessions, Item) == 2


def test_the_same_key_for_a_different_body_is_refused(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", "k-2"))
    other = client.post("/api/v1/items", json={**ITEM, "title": "另一件事"}, headers=keyed(people, "reporter", "k-2"))

    assert other.status_code == 422
    assert other.mimetype == "application/problem+json"
    assert other.json is not None
    assert other.json["errors"][0]["field"] == "Idempotency-Key"
    assert "different request" in other.json["errors"][0]["message"]
    assert count(sessions, Item) == 1


def test_the_same_key_on_another_path_is_a_different_request(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = at_rectify(client, people, "2030-06-30")
    url = f"/api/v1/items/{item['id']}"
    noted = client.post(f"{url}/progress", json={"note": "已开工"}, headers=keyed(people, "owner", "k-3"))
    later = {"new_deadline": "2030-09-30", "reason": "设备未到"}
    asked = client.post(f"{url}/extensions", json=later, headers=keyed(people, "owner", "k-3"))
    assert noted.status_code == 201
    assert asked.status_code == 422
    assert count(sessions, ExtensionRequest) == 0


def test_keys_are_per_user(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        identity.add_user(session, "reporter2", "works", ["reporter"])
        other = {"Authorization": f"Bearer {identity.create_token(session, 'reporter2')}"}
    mine = client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", "shared"))
    theirs = client.post("/api/v1/items", json=ITEM, headers={**other, "Idempotency-Key": "shared"})

    assert mine.status_code == theirs.status_code == 201
    assert mine.json is not None and theirs.json is not None
    assert mine.json["id"] != theirs.json["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    assert count(sessions, Item) == 2


def test_a_refused_request_keeps_no_key(client: FlaskClient, people: People, sessions: sessionmaker[Session]) -> None:
    """A request that failed created nothing: sent again, corrected, with the same key, it is carried out."""
    nowhere = {**ITEM, "department": "nowhere"}
    refused = client.post("/api/v1/items", json=nowhere, headers=keyed(people, "reporter", "k-4"))
    assert refused.status_code == 422
    assert count(sessions, IdempotencyKey) == 0
    done = client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", "k-4"))
    assert done.status_code == 201
    assert count(sessions, Item) == 1


def test_an_empty_or_overlong_key_is_refused_by_name(client: FlaskClient, people: People) -> None:
    for key in ("", "k" * 256):
        response = client.post("/api/v1/items", json=ITEM, headers=keyed(people, "reporter", key))
        assert response.status_code == 422
        assert response.json is not None
        assert [e["field"] for e in response.json["errors"]] == ["Idempotency-Key"]


def test_progress_and_extension_requests_are_made_once(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    item = at_rectify(client, people, "2030-06-30")
    for url, body in (
        (f"/api/v1/items/{item['id']}/progress", {"note": "已开工", "percent": 30}),
        (f"/api/v1/items/{item['id']}/extensions", {"new_deadline": "2030-09-30", "reason": "设备未到"}),
    ):
        answers = [client.post(url, json=body, headers=keyed(people, "owner", url)) for _ in range(2)]
        assert [a.status_code for a in answers] == [201, 201], answers[0].json
        assert answers[0].get_data() == answers[1].get_data()
    assert count(sessions, ProgressUpdate) == 1
    assert count(sessions, ExtensionRequest) == 1


def test_a_completion_sent_again_with_its_key_gets_the_first_answer_and_completes_once(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    """A client that lost the answer (a dropped connection, a 503 during commit) sends the completion again."""
    item = client.post("/api/v1/items", json=ITEM, headers=people.auth("reporter")).json
    url = f"/api/v1/tasks/{item['tasks'][0]['id']}/complete"
    body = {"data": {"measures": "增设取号机"}}
    first, again = (client.post(url, json=body, headers=keyed(people, "manager", "done-1")) for _ in range(2))
    assert first.status_code == again.status_code == 200, first.json
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json["tasks"][0]["id"] != item["tasks"][0]["id"]  # the item moved on to its next task
    # Without the key, the same completion again is refused: the task is no longer ready.
    assert client.post(url, json=body, headers=people.auth("manager")).status_code == 409
    with transaction(sessions) as session:
        completions = session.scalars(
            select(HistoryEvent.task).where(HistoryEvent.item_id == item["id"], HistoryEvent.actor == "manager")
        ).all()
    assert completions == [item["tasks"][0]["name"]]


def test_an_import_sent_twice_imports_once(
    client: FlaskClient, people: People, sessions: sessionmaker[Session]
) -> None:
    ledger = workbooks.ledger([workbooks.item(1)])

    def send() -> Any:
        return client.post(
            "/api/v1/items/import",
            data={"file": (BytesIO(ledger), "台账.xlsx")},
            headers=keyed(people, "reporter", "import-1"),
            content_type="multipart/form-data",
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201, first.json
    assert again.get_data() == first.get_data()
    assert count(sessions, Item) == 1


def test_the_header_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec is not None
    for path in (
        "/api/v1/items",
        "/api/v1/items/import",
        "/api/v1/items/{item_id}/progress",
        "/api/v1/tasks/{task_id}/complete",
    ):
        names = [p["name"] for p in spec["paths"][path]["post"]["parameters"] if p["in"] == "header"]
        assert names == ["Idempotency-Key"], path
    listing = spec["paths"]["/api/v1/items"]["get"].get("parameters", [])
    assert "Idempotency-Key" not in [p["name"] for p in listing]
    import_params = [p["name"] for p in spec["paths"]["/api/v1/items/import"]["post"]["parameters"]]
    assert "dry_run" in import_params


def race(sessions: sessionmaker[Session], url: str, body: dict[str, Any], username: str) -> list[tuple[int, bytes]]:
    """``RACERS`` clients of one user send one request with one key at once; each answer's status and body.

    Each client has a token of its own, as several devices of one person would: requests on one token
    wait for each other (noting its last use), and would never race.
    """
    key = str(uuid.uuid4())
    with transaction(sessions) as session:
        tokens = [identity.create_token(session, username) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)

    def send(token: str) -> tuple[int, bytes]:
        with requests.Session() as http:
            start.wait(timeout=30)
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
            response = http.post(url, json=body, headers=headers, timeout=60)
            return response.status_code, response.content

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(send, tokens))


def test_racing_twins_with_one_key_create_one_item(
    live_server: str, people: People, sessions: sessionmaker[Session]
) -> None:
    """Six clients send the same request with the same key at once (a double click, retries): one item."""
    answers = race(sessions, f"{live_server}/api/v1/items", ITEM, "reporter")

    assert {status for status, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1
    assert count(sessions, Item) == 1


def test_racing_twins_whose_work_collides_all_get_the_first_answer(
    live_server: str, people: People, sessions: sessionmaker[Session]
) -> None:
    """A twin that fails because the first one did the work (the code is taken) answers as the first did."""
    answers = race(sessions, f"{live_server}/api/v1/departments", {"code": "audit", "name": "审计科"}, "admin")

    assert {status for status, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).where(Department.code == "audit")) == 1
