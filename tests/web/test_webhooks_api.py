"""Outgoing webhooks: administrators subscribe a URL, the worker POSTs signed events to a real receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines.worker import Worker
from engine.notify import webhooks
from engine.store.db import transaction
from engine.store.models import AdminLogEntry, Job, utcnow
from tests.conftest import People

API = "/api/v1"


@dataclass
class Receiver:
    """What a webhook receiver got: (path, headers, raw body) per request; it answers ``statuses`` in turn, then 200."""

    url: str
    statuses: list[int] = field(default_factory=list)
    got: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                found.got.append((self.path, dict(self.headers), body))
                status = found.statuses.pop(0) if found.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join()


def subscribe(client: FlaskClient, people: People, url: str, events: list[str]) -> Any:
    response = client.post(f"{API}/webhooks", json={"url": url, "events": events}, headers=people.auth("admin"))
    assert response.status_code == 201, response.json
    return response.json


def step(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    task = item["tasks"][0]["id"]
    response = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth(user))
    assert response.status_code == 200, response.json
    return response.json


def work(sessions: sessionmaker[Session]) -> None:
    Worker(sessions, "test").run_until(threading.Event(), 0, until_idle=True)


def delivered(receiver: Receiver, secret: str, path: str = "/hook") -> list[dict[str, Any]]:
    """The bodies received at ``path``, after checking each one's signature over the exact bytes and its headers."""
    bodies = []
    for headers, body in [(headers, body) for at, headers, body in receiver.got if at == path]:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Rectiflow-Signature"], expected)
        payload = json.loads(body)
        assert headers["X-Rectiflow-Event"] == payload["event"]
        assert headers["X-Rectiflow-Delivery"] == payload["delivery"]
        bodies.append(payload)
    return bodies


def test_an_items_life_is_posted_signed_to_the_subscribed_url(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = subscribe(client, people, receiver.url, list(webhooks.EVENTS))
    assert len(hook["secret"]) == 64 and hook["active"]
    # Not subscribed to status changes: told only of creation.
    created_only = subscribe(client, people, receiver.url + "/created-only", ["item.created"])
    listed = client.get(f"{API}/webhooks", headers=people.auth("admin")).json["webhooks"]
    assert [h["url"] for h in listed] == [receiver.url, receiver.url + "/created-only"]
    assert all("secret" not in h for h in listed)

    body = {"title": "路灯不亮", "department": "office"}
    item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
    assert receiver.got == []  # nothing leaves inside the request: the worker delivers
    item = step(client, people, "manager", item, {"measures": "更换灯泡"})
    item = step(client, people, "manager", item, {"owner": "owner"})
    item = step(client, people, "owner", item, {"result": "已更换"})
    step(client, people, "approver", item, {"decision": "approve"})
    work(sessions)

    bodies = delivered(receiver, hook["secret"])
    assert [(b["event"], b["status_from"], b["status_to"]) for b in bodies] == [
        ("item.created", None, "identified"),
        ("item.status_changed", "identified", "measures"),
        ("item.status_changed", "measures", "owner"),
        ("item.status_changed", "owner", "review"),
        ("item.status_changed", "review", "closed"),
        ("item.closed", "review", "closed"),
    ]
    assert {b["item_id"] for b in bodies} == {item["id"]}
    assert len({b["delivery"] for b in bodies}) == len(bodies)
    only = delivered(receiver, created_only["secret"], "/hook/created-only")
    assert [b["event"] for b in only] == ["item.created"]
    with transaction(sessions) as session:
        jobs = session.scalars(select(Job).where(Job.kind == webhooks.WEBHOOK_JOB)).all()
        assert all(job.due_at is None and job.last_error is None for job in jobs)
        logged = session.scalars(select(AdminLogEntry.action).where(AdminLogEntry.action.like("webhook.%"))).all()
        assert logged == ["webhook.create", "webhook.create"]


def test_an_overdue_item_is_announced(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = subscribe(client, people, receiver.url, ["item.overdue"])
    with time_machine.travel("2026-11-25T02:00:00+00:00", tick=False):
        body = {"title": "逾期事项", "department": "office", "deadline": "2026-11-20"}
        item = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json
        item = step(client, people, "manager", item, {"measures": "m"})
        step(client, people, "manager", item, {"owner": "owner"})
    work(sessions)
    assert [(b["event"], b["item_id"]) for b in delivered(receiver, hook["secret"])] == [("item.overdue", item["id"])]


def test_a_failed_delivery_is_retried_with_the_same_body_and_a_removed_webhook_hears_nothing_more(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    hook = subscribe(client, people, receiver.url, ["item.created"])
    receiver.statuses = [500]
    client.post(f"{API}/items", json={"title": "一", "department": "office"}, headers=people.auth("reporter"))
    work(sessions)
    assert len(receiver.got) == 1
    with transaction(sessions) as session:
        (job,) = session.scalars(select(Job).where(Job.kind == webhooks.WEBHOOK_JOB)).all()
        assert job.due_at is not None and job.due_at > utcnow()  # waits out the backoff
        assert "answered 500" in (job.last_error or "")
        job.due_at = utcnow()  # the backoff has passed
    work(sessions)
    assert len(receiver.got) == 2 and receiver.got[0][2] == receiver.got[1][2]
    delivered(receiver, hook["secret"])
    with transaction(sessions) as session:
        job = session.scalars(select(Job).where(Job.kind == webhooks.WEBHOOK_JOB)).one()
        assert (job.due_at, job.last_error, job.attempts) == (None, None, 2)

    deleted = client.delete(f"{API}/webhooks/{hook['id']}", headers=people.auth("admin"))
    assert (deleted.status_code, deleted.json["active"]) == (200, False)
    client.post(f"{API}/items", json={"title": "二", "department": "office"}, headers=people.auth("reporter"))
    work(sessions)
    assert len(receiver.got) == 2


def test_a_receiver_that_keeps_failing_is_given_up_on_with_its_last_error(
    client: FlaskClient, people: People, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    subscribe(client, people, receiver.url, ["item.created"])
    receiver.statuses = [302] * webhooks.MAX_ATTEMPTS  # a redirect is not followed: it is a failure
    client.post(f"{API}/items", json={"title": "一", "department": "office"}, headers=people.auth("reporter"))
    for _ in range(webhooks.MAX_ATTEMPTS):
        with transaction(sessions) as session:
            session.execute(update(Job).where(Job.kind == webhooks.WEBHOOK_JOB).values(due_at=utcnow()))
        work(sessions)
    assert len(receiver.got) == webhooks.MAX_ATTEMPTS
    with transaction(sessions) as session:
        job = session.scalars(select(Job).where(Job.kind == webhooks.WEBHOOK_JOB)).one()
        assert (job.due_at, job.attempts) == (None, webhooks.MAX_ATTEMPTS)
        assert "answered 302" in (job.last_error or "")


def test_only_administrators_keep_webhooks_and_the_url_must_be_http(client: FlaskClient, people: People) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["item.created"]}
    for method in (client.get, client.post):
        assert method(f"{API}/webhooks", json=body, headers=people.auth("manager")).status_code == 403
    assert client.delete(f"{API}/webhooks/1", headers=people.auth("manager")).status_code == 403
    for url in ("ftp://example.org/hook", "not a url", "http://" + "a" * 2000):
        refused = client.post(f"{API}/webhooks", json=body | {"url": url}, headers=people.auth("admin"))
        assert refused.status_code == 422, url
        assert "url" in json.dumps(refused.json)
    refused = client.post(f"{API}/webhooks", json=body | {"events": ["item.eaten"]}, headers=people.auth("admin"))
    assert refused.status_code == 422 and "events" in json.dumps(refused.json)
    assert client.delete(f"{API}/webhooks/99", headers=people.auth("admin")).status_code == 404
