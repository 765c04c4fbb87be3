"""Notification e-mail against a real SMTP server on loopback (aiosmtpd): enqueued with the
notification, sent by the worker, retried when the server is down, never in the workflow's way."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines.worker import Worker
from engine.items import notifications
from engine.notify.mailer import EMAIL_JOB
from engine.store.config import MailSettings, Settings
from engine.store.db import transaction
from engine.store.models import Item, Job, Notification, User, utcnow
from tests.conftest import People
from tests.engine.deadlines.test_worker import arm_timers

API = "/api/v1"
DOMAIN = "example.test"


class SmtpServer:
    """aiosmtpd on 127.0.0.1, a fixed free port; stop and start again at will. Keeps what it received."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mail_settings(server: SmtpServer) -> MailSettings:
    return MailSettings(host="127.0.0.1", port=server.port, recipient_domain=DOMAIN, timeout=5)


@pytest.fixture
def mail_app(app: Flask, smtp: SmtpServer) -> Flask:
    # What the web app factory does when RECTIFLOW_SMTP_* is set.
    notifications.enable_mail(app.extensions["rectiflow_sessions"], mail_settings(smtp))
    return app


def step(client: FlaskClient, people: People, user: str, item: dict[str, Any], data: dict[str, Any]) -> Any:
    task = item["tasks"][0]["id"]
    response = client.post(f"{API}/tasks/{task}/complete", json={"data": data}, headers=people.auth(user))
    assert response.status_code == 200, response.json
    return response.json


def rejected_item(client: FlaskClient, people: People) -> dict[str, Any]:
    body = {"title": "路灯不亮", "department": "office"}
    item: dict[str, Any] = client.post(f"{API}/items", json=body, headers=people.auth("reporter")).json or {}
    item = step(client, people, "manager", item, {"measures": "更换灯泡"})
    item = step(client, people, "manager", item, {"owner": "owner"})
    item = step(client, people, "owner", item, {"result": "已更换"})
    return step(client, people, "approver", item, {"decision": "reject", "comment": "仍有两盏不亮"})


def email_jobs(sessions: sessionmaker[Session]) -> list[Job]:
    with transaction(sessions) as session:
        return list(session.scalars(select(Job).where(Job.kind == EMAIL_JOB).order_by(Job.id)))


def rejection(sessions: sessionmaker[Session]) -> Notification:
    with transaction(sessions) as session:
        owner = session.scalars(select(User.id).where(User.username == "owner")).one()
        query = select(Notification).where(Notification.kind == "rejection", Notification.user_id == owner)
        return session.scalars(query).one()


def test_settings_need_a_host_and_a_recipient_domain() -> None:
    assert Settings.from_env({}).mail is None
    assert Settings.from_env({"RECTIFLOW_SMTP_HOST": "mail.local"}).mail is None  # no address rule: no e-mail
    env = {"RECTIFLOW_SMTP_HOST": "mail.local", "RECTIFLOW_SMTP_RECIPIENT_DOMAIN": "gov.example"}
    mail = Settings.from_env(env).mail
    assert mail == MailSettings(host="mail.local", recipient_domain="gov.example")
    assert (mail.port, mail.sender, mail.starttls, mail.timeout) == (25, "rectiflow@localhost", False, 10.0)
    assert mail.recipient("li") == "li@gov.example"
    full = {
        **env,
        "RECTIFLOW_SMTP_PORT": "587",
        "RECTIFLOW_SMTP_FROM": "noreply@gov.example",
        "RECTIFLOW_SMTP_USER": "robot",
        "RECTIFLOW_SMTP_PASSWORD": "s3cret",
        "RECTIFLOW_SMTP_STARTTLS": "true",
        "RECTIFLOW_SMTP_TIMEOUT": "3.5",
    }
    mail = Settings.from_env(full).mail
    assert mail is not None
    assert (mail.port, mail.sender, mail.user, mail.password, mail.starttls, mail.timeout) == (
        587,
        "noreply@gov.example",
        "robot",
        "s3cret",
        True,
        3.5,
    )
    assert "s3cret" not in repr(mail)
    with pytest.raises(ValueError, match="RECTIFLOW_SMTP_STARTTLS"):
        Settings.from_env({**env, "RECTIFLOW_SMTP_STARTTLS": "maybe"})


def test_without_mail_configured_no_email_job_is_made(client: FlaskClient, people: People, sessions: Any) -> None:
    rejected_item(client, people)
    assert email_jobs(sessions) == []


def test_the_worker_mails_a_rejection_to_the_owner(
    mail_app: Flask, client: FlaskClient, people: People, sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    item = rejected_item(client, people)
    notice = rejection(sessions)
    jobs = email_jobs(sessions)
    with transaction(sessions) as session:
        notified = list(session.scalars(select(Notification.id).order_by(Notification.id)))
    # One email job per notification, made in the request's transaction, due now, sent by nobody yet.
    assert sorted(job.payload["notification_id"] for job in jobs if job.payload) == notified
    assert smtp.received == []

    worker = Worker(sessions, name="mailer", mail=mail_settings(smtp))
    while worker.run_pending():
        pass

    assert len(smtp.received) == len(notified)
    (recipients, message), *_ = [(to, m) for to, m in smtp.received if m["Subject"].startswith("被退回")]
    assert recipients == [f"owner@{DOMAIN}"]
    assert message["To"] == f"owner@{DOMAIN}"
    assert message["From"] == "rectiflow@localhost"
    # Both languages, Chinese first: nothing says which the reader prefers. Sent RFC 2047 encoded, decoded intact.
    assert message["Subject"] == "被退回：路灯不亮 / Sent back: 路灯不亮"
    assert "=?utf-8?" in message.as_string().lower()
    body = message.get_content()
    assert body.splitlines()[:2] == ["整改落实｜退回原因：仍有两盏不亮", "Rectify | Reason: 仍有两盏不亮"]
    assert f"Item #{item['id']}" in body
    assert message["Message-ID"] == f"<rectiflow-notification-{notice.id}@{DOMAIN}>"
    assert all(job.due_at is None and job.last_error is None and job.attempts == 1 for job in email_jobs(sessions))


def test_a_failed_send_is_retried_later_and_the_workflow_goes_on(
    mail_app: Flask, client: FlaskClient, people: People, sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    item = rejected_item(client, people)
    notice = rejection(sessions)
    (job,) = [job for job in email_jobs(sessions) if job.payload == {"notification_id": notice.id}]
    smtp.stop()

    worker = Worker(sessions, name="mailer", mail=mail_settings(smtp))
    while worker.run_pending():
        pass

    with transaction(sessions) as session:
        failed = session.get_one(Job, job.id)
        assert failed.attempts == 1
        assert failed.last_error is not None and "Connection" in failed.last_error
        assert failed.due_at is not None and failed.due_at > utcnow()  # due later, backing off
        assert failed.locked_by is None
        assert session.get_one(Item, item["id"]).status == "owner"
    assert worker.run_pending() == 0  # not due again yet
    # The workflow is unaffected: the owner carries on while the mail waits.
    item = client.get(f"{API}/items/{item['id']}", headers=people.auth("owner")).json or {}
    item = step(client, people, "owner", item, {"result": "全部更换"})
    assert item["status"] == "review"

    smtp.start()
    with transaction(sessions) as session:
        session.get_one(Job, job.id).due_at = utcnow() - dt.timedelta(seconds=1)
    while worker.run_pending():
        pass
    assert worker.run_pending() == 0

    mine = [m for _, m in smtp.received if m["Message-ID"] == f"<rectiflow-notification-{notice.id}@{DOMAIN}>"]
    assert len(mine) == 1  # delivered exactly once
    assert mine[0]["Subject"] == "被退回：路灯不亮 / Sent back: 路灯不亮"
    with transaction(sessions) as session:
        sent = session.get_one(Job, job.id)
        assert (sent.attempts, sent.last_error, sent.due_at, sent.locked_by) == (2, None, None, None)


def test_a_worker_without_mail_settings_leaves_email_jobs_for_one_that_has_them(
    mail_app: Flask, client: FlaskClient, people: People, sessions: sessionmaker[Session], smtp: SmtpServer
) -> None:
    rejected_item(client, people)
    assert Worker(sessions, name="plain").run_pending() > 0
    jobs = email_jobs(sessions)
    assert all(job.last_error and "MailNotConfigured" in job.last_error for job in jobs)
    assert smtp.received == []


def test_escalations_fired_by_the_worker_are_mailed(
    sessions: sessionmaker[Session], people: People, smtp: SmtpServer
) -> None:
    arm_timers(sessions, 1)
    assert email_jobs(sessions) == []  # created without mail configured
    worker = Worker(sessions, name="mailer", mail=mail_settings(smtp))
    while worker.run_pending():
        pass
    subjects = {(to[0], m["Subject"]) for to, m in smtp.received}
    assert (f"approver@{DOMAIN}", "逾期督办：到期 0 / Overdue: 到期 0") in subjects
    assert (f"manager@{DOMAIN}", "预警：到期 0 / Warning: 到期 0") in subjects
    assert not any(to == [f"works_manager@{DOMAIN}"] for to, _ in smtp.received)
    assert all(job.due_at is None for job in email_jobs(sessions))
