"""The one place configuration is read from the environment (prefix ``RECTIFLOW_``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class MailSettings:
    """Where notification e-mails go out (``RECTIFLOW_SMTP_*``); sent by the worker, never in a request.

    - ``RECTIFLOW_SMTP_HOST``: the SMTP server (unset: no e-mail at all).
    - ``RECTIFLOW_SMTP_PORT``: default 25.
    - ``RECTIFLOW_SMTP_FROM``: the sender address (default ``rectiflow@localhost``).
    - ``RECTIFLOW_SMTP_USER`` / ``RECTIFLOW_SMTP_PASSWORD``: log in when a user is given.
    - ``RECTIFLOW_SMTP_STARTTLS``: ``true`` to upgrade the connection with STARTTLS (default false).
    - ``RECTIFLOW_SMTP_TIMEOUT``: seconds for connecting and each SMTP command (default 10).
    - ``RECTIFLOW_SMTP_RECIPIENT_DOMAIN``: **interim rule until users carry an address**: a user's
      e-mail is ``<username>@<domain>``. Unset: no e-mail at all, even with a host.
    """

    host: str
    recipient_domain: str
    port: int = 25
    sender: str = "rectiflow@localhost"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0

    def recipient(self, username: str) -> str:
        return f"{username}@{self.recipient_domain}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings | None:
        host = env.get("RECTIFLOW_SMTP_HOST", "").strip()
        domain = env.get("RECTIFLOW_SMTP_RECIPIENT_DOMAIN", "").strip().lstrip("@")
        if not host:
            return None
        if not domain:
            log.warning("RECTIFLOW_SMTP_HOST is set but RECTIFLOW_SMTP_RECIPIENT_DOMAIN is not: no e-mail is sent")
            return None
        return cls(
            host=host,
            recipient_domain=domain,
            port=int(env.get("RECTIFLOW_SMTP_PORT", "25")),
            sender=env.get("RECTIFLOW_SMTP_FROM", "").strip() or "rectiflow@localhost",
            user=env.get("RECTIFLOW_SMTP_USER") or None,
            password=env.get("RECTIFLOW_SMTP_PASSWORD") or None,
            starttls=_flag(env, "RECTIFLOW_SMTP_STARTTLS"),
            timeout=float(env.get("RECTIFLOW_SMTP_TIMEOUT", "10")),
        )


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name, "true" if default else "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value in _TRUE


@dataclass(frozen=True)
class Settings:
    """Typed settings; every variable the product reads is a field here.

    - ``RECTIFLOW_INSTANCE_PATH``: folder for the SQLite file and other local state (default ``./instance``).
    - ``RECTIFLOW_DATABASE_URL``: SQLAlchemy URL (default a SQLite file in the instance folder);
      ``postgresql://`` and ``postgresql+psycopg://`` are both accepted.
    - ``RECTIFLOW_PROCESSES_PATH``: the bundled diagrams and their forms (default ``processes/``).
    - ``RECTIFLOW_MAX_UPLOAD_BYTES``: largest request body accepted (default 5 MB).
    - ``RECTIFLOW_TIMEZONE``: the office's time zone, for deadlines and report periods (default Asia/Shanghai).
    - ``RECTIFLOW_SMTP_*``: notification e-mail, see ``MailSettings`` (``mail`` is None: no e-mail).
    - ``RECTIFLOW_TOKEN_TTL_MINUTES``: how long a token from ``POST /auth/token`` (password login) is valid
      (default 480, a working day). Tokens an administrator makes live until revoked unless given an expiry.
    - ``RECTIFLOW_LOGIN_LIMIT``: failed logins allowed per username before it is locked out for the rest of
      the window (default ``5 per minute``, a `limits` string such as ``10 per hour``).
    - ``RECTIFLOW_LOGIN_ADDRESS_LIMIT``: failed logins allowed per client address, whatever the names tried
      (default ``30 per minute``).
    - ``RECTIFLOW_RATELIMIT_STORAGE_URI``: where the login counters live (default ``memory://``, one count
      per process). Several ``rectiflow serve`` processes need a shared store, e.g. ``redis://host:6379``.
    - ``RECTIFLOW_SESSION_COOKIE_SECURE``: send cookies over HTTPS only (default true; false only for plain
      HTTP on a developer's machine). Cookies are always HttpOnly and SameSite=Lax.
    """

    instance_path: Path
    database_url: str
    processes_path: Path = REPO_ROOT / "processes"
    max_upload_bytes: int = 5 * 1024 * 1024
    timezone: str = "Asia/Shanghai"
    mail: MailSettings | None = None
    token_ttl_minutes: int = 480
    login_limit: str = "5 per minute"
    login_address_limit: str = "30 per minute"
    ratelimit_storage_uri: str = "memory://"
    session_cookie_secure: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = Path(env.get("RECTIFLOW_INSTANCE_PATH", str(Path.cwd() / "instance"))).resolve()
        url = env.get("RECTIFLOW_DATABASE_URL") or f"sqlite:///{instance / 'rectiflow.sqlite3'}"
        return cls(
            instance_path=instance,
            database_url=url,
            processes_path=Path(env.get("RECTIFLOW_PROCESSES_PATH", str(REPO_ROOT / "processes"))),
            max_upload_bytes=int(env.get("RECTIFLOW_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
            timezone=env.get("RECTIFLOW_TIMEZONE", "Asia/Shanghai"),
            mail=MailSettings.from_env(env),
            token_ttl_minutes=int(env.get("RECTIFLOW_TOKEN_TTL_MINUTES", "480")),
            login_limit=env.get("RECTIFLOW_LOGIN_LIMIT", "5 per minute"),
            login_address_limit=env.get("RECTIFLOW_LOGIN_ADDRESS_LIMIT", "30 per minute"),
            ratelimit_storage_uri=env.get("RECTIFLOW_RATELIMIT_STORAGE_URI", "memory://"),
            session_cookie_secure=_flag(env, "RECTIFLOW_SESSION_COOKIE_SECURE", default=True),
        )
