"""Outgoing webhooks: administrators' URLs told of item events, delivered by the worker like e-mail.

An event (``item.created``, ``item.status_changed``, ``item.overdue``, ``item.closed``) enqueues one
``webhook`` job per active webhook subscribed to it, in the transaction of the change: no event is
announced that did not happen, none is lost that did. The worker builds the request in a short
transaction, POSTs it with no transaction open, and marks the job done on a 2xx answer; anything else
(a redirect is not followed) takes the worker's retry with backoff, up to ``MAX_ATTEMPTS``.

The body is JSON; ``X-Rectiflow-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes
with the webhook's secret. Delivery is at least once: ``X-Rectiflow-Delivery`` is the same on every
attempt, so a receiver can drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import admin_log
from engine.store.errors import InvalidInput, NotFound
from engine.store.models import Item, Job, Webhook, utcnow

WEBHOOK_JOB = "webhook"
CREATED, STATUS_CHANGED, OVERDUE, CLOSED = "item.created", "item.status_changed", "item.overdue", "item.closed"
EVENTS = (CREATED, STATUS_CHANGED, OVERDUE, CLOSED)
MAX_ATTEMPTS = 10
TIMEOUT = 5.0  # seconds to connect and for each read: a slow receiver holds a worker, never a lock
MAX_URL = 2000


class DeliveryFailed(RuntimeError):
    """The receiver did not answer 2xx; the worker tries again later."""


def _refused(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def create(session: Session, actor: str | None, remote_addr: str | None, url: str, events: list[str]) -> Webhook:
    """A new active webhook with a fresh secret (the caller shows it once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise _refused("url", "网址须为 http(s) 且不超过 2000 个字符 The url must be http(s), at most 2,000 characters")
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise _refused("events", f"未知的事件 Unknown or no events {unknown}; known: {', '.join(EVENTS)}")
    hook = Webhook(url=url, events=sorted(set(events)), secret=secrets.token_hex(32), active=True, created_by=actor)
    session.add(hook)
    session.flush()
    admin_log.record(session, actor, "webhook.create", f"webhook {hook.id}", remote_addr, url=url, events=hook.events)
    return hook


def listed(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def deactivate(session: Session, actor: str | None, remote_addr: str | None, webhook_id: int) -> Webhook:
    """No more events for it; deliveries already due are dropped when their turn comes."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"没有这个网络钩子 No webhook {webhook_id}")
    hook.active = False
    admin_log.record(session, actor, "webhook.delete", f"webhook {hook.id}", remote_addr, url=hook.url)
    return hook


def announce(session: Session, item: Item, event: str, status_from: str | None = None) -> None:
    """Enqueue ``event`` about ``item`` for every active webhook subscribed to it, in the caller's transaction."""
    at = utcnow()
    for hook in session.scalars(select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id)):
        if event in hook.events:
            payload = {
                "webhook_id": hook.id,
                "delivery": str(uuid.uuid4()),
                "event": event,
                "item_id": item.id,
                "status_from": status_from,
                "status_to": item.status,
                "at": at.isoformat(),
            }
            session.add(Job(kind=WEBHOOK_JOB, item_id=item.id, due_at=at, payload=payload))


def item_changed(session: Session, item: Item, status_from: str, was_closed: bool) -> None:
    """The events of a newly stored state: created (it had no status yet), status changed, closed."""
    if not status_from:
        announce(session, item, CREATED)
    elif item.status != status_from:
        announce(session, item, STATUS_CHANGED, status_from)
    if item.closed_at is not None and not was_closed:
        announce(session, item, CLOSED, status_from)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]

    def send(self) -> None:
        """POST once; anything but a 2xx answer (a redirect included) raises."""
        response = requests.post(self.url, data=self.body, headers=self.headers, timeout=TIMEOUT, allow_redirects=False)
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"{self.url} answered {response.status_code}")


def prepare(session: Session, payload: dict[str, Any] | None) -> Delivery | None:
    """The request for a webhook job; None when its webhook was removed meanwhile."""
    payload = dict(payload or {})
    hook = session.get(Webhook, int(payload.pop("webhook_id")))
    if hook is None or not hook.active:
        return None
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Rectiflow-Webhook",
        "X-Rectiflow-Event": payload["event"],
        "X-Rectiflow-Delivery": payload["delivery"],
        "X-Rectiflow-Signature": sign(hook.secret, body),
    }
    return Delivery(hook.url, body, headers)


def gives_up(job: Job) -> bool:
    """After ``MAX_ATTEMPTS`` a delivery stops being retried; its last error stays on the job."""
    return job.kind == WEBHOOK_JOB and job.attempts >= MAX_ATTEMPTS
