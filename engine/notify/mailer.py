"""Notification e-mail (邮件通知): composed from a stored notification, sent over SMTP by the worker.

A notification created while e-mail is configured gets an ``email`` job (see
``engine.items.notifications.enqueue_email``); the worker composes the message in a short transaction,
sends it outside any transaction (an SMTP server that is slow or down never holds a database lock),
then marks the job done. A failed send leaves the job to the worker's retry with backoff; the item
and its workflow never wait for mail. Delivery is at least once: a worker that dies between the send
and its commit sends that message again; the ``Message-ID`` is stable so mail clients can fold it.

Recipient, until users carry an address: ``<username>@<RECTIFLOW_SMTP_RECIPIENT_DOMAIN>``.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy.orm import Session

from engine.notify import notification_text
from engine.store.config import MailSettings
from engine.store.models import Notification, User

EMAIL_JOB = "email"


class MailNotConfigured(RuntimeError):
    """An email job reached a worker started without ``RECTIFLOW_SMTP_*``; it is retried later."""


def compose(session: Session, payload: dict[str, Any] | None, mail: MailSettings | None) -> EmailMessage | None:
    """The message for an email job; None when there is nothing to send (notification gone, user inactive)."""
    if mail is None:
        raise MailNotConfigured("e-mail job but this worker has no RECTIFLOW_SMTP_HOST / _RECIPIENT_DOMAIN")
    notification = session.get(Notification, int((payload or {})["notification_id"]))
    if notification is None:
        return None
    user = session.get(User, notification.user_id)
    if user is None or not user.active:
        return None
    # Nothing says which language the reader prefers (a person's choice lives in their browser session):
    # both, Chinese first as everywhere in the product, so each reader finds theirs without opening a page.
    said = notification_text.describe(notification, None)
    message = EmailMessage()  # default policy: UTF-8, RFC 2047 encoded headers
    message["Subject"] = said.title
    message["From"] = mail.sender
    message["To"] = mail.recipient(user.username)
    message["Date"] = formatdate(notification.created_at.timestamp(), localtime=False, usegmt=True)
    message["Message-ID"] = f"<rectiflow-notification-{notification.id}@{mail.recipient_domain}>"
    lines = [said.message, ""]
    if notification.item_id is not None:
        lines.append(f"整改事项 Item #{notification.item_id}")
    message.set_content("\n".join(lines) + "\n", charset="utf-8")
    return message


def send(mail: MailSettings, message: EmailMessage) -> None:
    """Deliver one message; any failure raises (``OSError`` / ``smtplib.SMTPException``)."""
    with smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout) as smtp:
        if mail.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if mail.user:
            smtp.login(mail.user, mail.password or "")
        smtp.send_message(message)  # one recipient: refused raises SMTPRecipientsRefused
