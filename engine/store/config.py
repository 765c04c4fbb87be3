"""The one place configuration is read from the environment (prefix ``RECTIFLOW_``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

# The checkout: for tests and tools only; an installed package has no checkout around it.
REPO_ROOT = Path(__file__).resolve().parents[2]
# The bundled diagrams ship inside the package (engine/bpmn/processes links to the checkout's processes/).
BUNDLED_PROCESSES = Path(__file__).parents[1] / "bpmn" / "processes"
log = logging.getLogger(__name__)
# How the service reaches PostgreSQL: straight, or through PgBouncer in transaction mode.
DATABASE_POOLS = ("direct", "pgbouncer")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


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


@dataclass(frozen=True)
class OidcSettings:
    """OpenID Connect login (``RECTIFLOW_OIDC_*``); None when no issuer is configured.

    - ``RECTIFLOW_OIDC_ISSUER``: the provider's issuer URL, exactly as its ID tokens carry it; the
      provider is discovered at ``<issuer>/.well-known/openid-configuration``.
    - ``RECTIFLOW_OIDC_CLIENT_ID`` / ``RECTIFLOW_OIDC_CLIENT_SECRET``: this service's client at the provider.
    - ``RECTIFLOW_OIDC_SCOPES``: requested scopes (default ``openid profile``; ``openid`` is required).
    - ``RECTIFLOW_OIDC_REDIRECT_URI``: the callback URL registered at the provider (default: built
      from the request, ``<scheme>://<host>/auth/oidc/callback``); set it behind a reverse proxy.
    - ``RECTIFLOW_OIDC_USERNAME_CLAIM``: the claim naming the local user (default ``preferred_username``).
    - ``RECTIFLOW_OIDC_DEPARTMENT_CLAIM``: a department code or name (default ``department``); absent:
      no department. An unknown department refuses the login; departments are never created by it.
    - ``RECTIFLOW_OIDC_ROLES_CLAIM``: a list (or a space/comma separated string) of roles (default ``roles``).
    - ``RECTIFLOW_OIDC_ROLE_MAP``: ``idp-value=role,...``. Unset: claim values that are role names
      count as they are. Set: only mapped values count (several pairs may name one value).
    """

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid profile"
    redirect_uri: str | None = None
    username_claim: str = "preferred_username"
    department_claim: str = "department"
    roles_claim: str = "roles"
    role_map: dict[str, frozenset[str]] | None = None

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings | None:
        issuer = env.get("RECTIFLOW_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        client_id = env.get("RECTIFLOW_OIDC_CLIENT_ID", "").strip()
        secret = env.get("RECTIFLOW_OIDC_CLIENT_SECRET", "")
        if not client_id or not secret:
            raise ValueError("RECTIFLOW_OIDC_ISSUER is set: RECTIFLOW_OIDC_CLIENT_ID and _CLIENT_SECRET are needed too")
        scopes = " ".join(env.get("RECTIFLOW_OIDC_SCOPES", "openid profile").split())
        if "openid" not in scopes.split():
            raise ValueError(f"RECTIFLOW_OIDC_SCOPES must include openid, not {scopes!r}")
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
            redirect_uri=env.get("RECTIFLOW_OIDC_REDIRECT_URI", "").strip() or None,
            username_claim=env.get("RECTIFLOW_OIDC_USERNAME_CLAIM", "").strip() or "preferred_username",
            department_claim=env.get("RECTIFLOW_OIDC_DEPARTMENT_CLAIM", "").strip() or "department",
            roles_claim=env.get("RECTIFLOW_OIDC_ROLES_CLAIM", "").strip() or "roles",
            role_map=parse_role_map(env.get("RECTIFLOW_OIDC_ROLE_MAP", "")),
        )


@dataclass(frozen=True)
class ImportLimits:
    """How big a workbook the ledger import reads (``RECTIFLOW_IMPORT_*``); checked before it is parsed.

    - ``RECTIFLOW_IMPORT_MAX_BYTES``: largest workbook file (default 10 MB); the request body cap of
      the import is raised to this, whatever ``RECTIFLOW_MAX_UPLOAD_BYTES`` says.
    - ``RECTIFLOW_IMPORT_MAX_MEMBER_BYTES``: largest uncompressed part of the workbook (default 50 MB).
    - ``RECTIFLOW_IMPORT_MAX_TOTAL_BYTES``: all its parts uncompressed together (default 50 MB).
    - ``RECTIFLOW_IMPORT_MAX_RATIO``: largest compression ratio of a part over 1 MB (default 100).
    - ``RECTIFLOW_IMPORT_MAX_ROWS``: rows read per sheet, blank ones included (default 10,000); the
      workbook's shared-string table may hold at most 20 texts per such row.

    The byte limits bound the time an accepted workbook takes to parse (seconds; no lock is held
    meanwhile). Not lower: openpyxl writes texts inline, so a 10,000-row ledger it saved (our own
    export) can be 20 MB of sheet XML.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_member_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 50 * 1024 * 1024
    max_ratio: int = 100
    max_rows: int = 10_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ImportLimits:
        names = {f.name: f"RECTIFLOW_IMPORT_{f.name.upper()}" for f in fields(cls)}
        given = {name: _positive(env, variable) for name, variable in names.items() if env.get(variable, "").strip()}
        return cls(**given)


@dataclass(frozen=True)
class EvidenceSettings:
    """Evidence files (佐证材料, ``engine.evidence``): where their bytes live and how many may come.

    - ``RECTIFLOW_STORAGE_URL``: unset: the local folder ``<instance>/files``; ``file:///abs/path``: another
      local folder; ``s3://bucket/prefix``: an S3-compatible object store (needs ``pip install 'rectiflow[s3]'``;
      credentials and region from the standard ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
      ``AWS_DEFAULT_REGION``, read by boto3 itself).
    - ``RECTIFLOW_S3_ENDPOINT_URL``: the store's address when it is not Amazon S3 (MinIO, Ceph, an OSS...).
    - ``RECTIFLOW_EVIDENCE_MAX_FILE_BYTES``: largest file (default 20 MB); the body cap of the upload route is
      raised to this (plus room for the form's parts), whatever ``RECTIFLOW_MAX_UPLOAD_BYTES`` says.
    - ``RECTIFLOW_EVIDENCE_MAX_ITEM_BYTES``: all of an item's files together (default 200 MB).
    - ``RECTIFLOW_EVIDENCE_MAX_FILES``: files per item (default 50). Removed files count for neither limit.
    """

    storage_url: str = ""
    s3_endpoint_url: str | None = None
    max_file_bytes: int = 20 * 1024 * 1024
    max_item_bytes: int = 200 * 1024 * 1024
    max_files: int = 50

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EvidenceSettings:
        url = env.get("RECTIFLOW_STORAGE_URL", "").strip()
        if url and not url.startswith(("s3://", "file:///")):
            raise ValueError(f"RECTIFLOW_STORAGE_URL must be s3://bucket/prefix or file:///path, not {url!r}")
        limits = {
            name: _positive(env, f"RECTIFLOW_EVIDENCE_{name.upper()}")
            for name in ("max_file_bytes", "max_item_bytes", "max_files")
            if env.get(f"RECTIFLOW_EVIDENCE_{name.upper()}", "").strip()
        }
        endpoint = env.get("RECTIFLOW_S3_ENDPOINT_URL", "").strip() or None
        return cls(storage_url=url, s3_endpoint_url=endpoint, **limits)


def _positive(env: Mapping[str, str], name: str) -> int:
    value = env[name].strip().replace("_", "")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return int(value)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    """A count that may be 0; ``default`` when unset."""
    value = env.get(name, "").strip().replace("_", "")
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def parse_role_map(text: str) -> dict[str, frozenset[str]] | None:
    """``"admins=admin, admins=auditor, reviewers=approver"`` → ``{"admins": {"admin", "auditor"}, ...}``."""
    pairs = [pair.strip() for pair in text.split(",") if pair.strip()]
    if not pairs:
        return None
    found: dict[str, set[str]] = {}
    for pair in pairs:
        value, sep, role = (part.strip() for part in pair.partition("="))
        if not sep or not value or not role:
            raise ValueError(f"RECTIFLOW_OIDC_ROLE_MAP: {pair!r} is not idp-value=role")
        found.setdefault(value, set()).add(role)
    return {value: frozenset(roles) for value, roles in found.items()}


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value in _TRUE


def _count(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first when unset)."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _retention_days(value: str) -> int | None:
    value = value.strip().lower()
    if value in ("", "forever"):
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"RECTIFLOW_HISTORY_RETENTION_DAYS must be a number of days or 'forever', not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    """Typed settings; every variable the product reads is a field here.

    - ``RECTIFLOW_INSTANCE_PATH``: folder for the SQLite file and other local state (default ``./instance``).
    - ``RECTIFLOW_DATABASE_URL``: SQLAlchemy URL (default a SQLite file in the instance folder);
      ``postgresql://`` and ``postgresql+psycopg://`` are both accepted.
    - ``RECTIFLOW_DATABASE_POOL``: ``direct`` (the default) or ``pgbouncer``: the URL reaches PostgreSQL
      through PgBouncer in transaction mode, which hands each transaction any server connection, so the
      driver prepares no statement (a prepared statement lives on one server connection only).
    - ``RECTIFLOW_PROCESSES_PATH``: the bundled diagrams and their forms (default ``processes/``).
    - ``RECTIFLOW_MAX_UPLOAD_BYTES``: largest request body accepted (default 5 MB).
    - ``RECTIFLOW_IMPORT_*``: how big a ledger workbook may be, see ``ImportLimits``.
    - ``RECTIFLOW_STORAGE_URL``, ``RECTIFLOW_S3_ENDPOINT_URL``, ``RECTIFLOW_EVIDENCE_*``: evidence files, see
      ``EvidenceSettings``.
    - ``RECTIFLOW_TIMEZONE``: the office's time zone, for deadlines and report periods (default Asia/Shanghai).
    - ``RECTIFLOW_SMTP_*``: notification e-mail, see ``MailSettings`` (``mail`` is None: no e-mail).
    - ``RECTIFLOW_HISTORY_RETENTION_DAYS``: how long the history of a *closed* item is kept; unset or
      ``forever`` (the default): kept forever. Even when set, history goes only when an operator runs
      ``rectiflow audit prune``, which archives it first (see ``engine.audit.retention``).
    - ``RECTIFLOW_SECRET_KEY``: signs browser-session cookies. Unset: a key is generated once and kept
      in ``<instance>/secret_key`` (mode 0600), shared by the processes on that folder; deployments
      scaled out over several hosts must set it, the same on every host.
    - ``RECTIFLOW_COOKIE_SECURE``: send the session cookie over HTTPS only (default true; false only
      for plain-HTTP development). Cookies are always HttpOnly and SameSite=Lax.
    - ``RECTIFLOW_SESSION_HOURS``: a browser session ends this long after its login (default 12).
    - ``RECTIFLOW_IDEMPOTENCY_HOURS``: how long a form's one-time token or an API ``Idempotency-Key`` is
      remembered (default 24): a repeat within it gets the first outcome, later it counts as new.
    - ``RECTIFLOW_OIDC_*``: OpenID Connect login, see ``OidcSettings`` (``oidc`` is None: no such login).
    - ``RECTIFLOW_TOKEN_TTL_MINUTES``: how long a token from ``POST /auth/token`` (password login) is valid
      (default 480, a working day). Tokens an administrator makes live until revoked unless given an expiry.
    - ``RECTIFLOW_LOGIN_LIMIT``: failed logins allowed per username before it is locked out for the rest of
      the window (default ``5 per minute``, a `limits` string such as ``10 per hour``).
    - ``RECTIFLOW_LOGIN_ADDRESS_LIMIT``: failed logins allowed per client address, whatever the names tried
      (default ``30 per minute``).
    - ``RECTIFLOW_RATELIMIT_STORAGE_URI``: where the login counters live (default ``memory://``, one count
      per process). Several processes (``rectiflow serve --processes N``, several hosts) need a shared
      store, e.g. ``redis://127.0.0.1:6379/0``: ``serve`` refuses to start N > 1 processes on ``memory://``.
    - ``RECTIFLOW_TRUSTED_PROXIES``: how many reverse proxies stand in front of the service (default 0).
      With N, the client address (per-address login limit, admin log), scheme and host are taken from
      the last N ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` entries; with 0 those headers are ignored.
      Set it to exactly the number of proxies: more lets a client forge its address.
    - ``RECTIFLOW_INTAKE_PUBLIC_LIMIT``: submissions one client address may make through the public form
      (when an administrator opens it) per window (default ``5 per hour``, a `limits` string); counted in
      the database, so every process on it shares the count.
    - ``RECTIFLOW_INTAKE_MAX_BYTES``: the largest request body the public form reads (default 65536).
    - ``RECTIFLOW_RECURRENCE_MONTHS``: a new item "came back" (此问题曾整改过) when it looks like an item
      closed in this many months before it was raised (default 12; ``engine.measures.recurrence``).
    - ``RECTIFLOW_AUDIT_KEY``: the key (at least 32 characters) the history's hashes are keyed with
      (HMAC-SHA-256). Unset: the key in ``<instance>/audit.key``, made (mode 0600) by ``rectiflow init``.
      It is never in the database nor in ``rectiflow export``: keep a copy apart from the backups (a
      password safe); a restore, on any machine, needs the same key. Without a key nothing that writes
      or verifies history starts. See ``engine.audit.keys``.
    """

    instance_path: Path
    database_url: str
    database_pool: str = "direct"
    processes_path: Path = BUNDLED_PROCESSES
    max_upload_bytes: int = 5 * 1024 * 1024
    imports: ImportLimits = ImportLimits()
    evidence: EvidenceSettings = EvidenceSettings()
    timezone: str = "Asia/Shanghai"
    mail: MailSettings | None = None
    history_retention_days: int | None = None
    secret_key: str | None = field(default=None, repr=False)
    cookie_secure: bool = True
    session_hours: float = 12.0
    idempotency_hours: float = 24.0
    oidc: OidcSettings | None = None
    token_ttl_minutes: int = 480
    login_limit: str = "5 per minute"
    login_address_limit: str = "30 per minute"
    ratelimit_storage_uri: str = "memory://"
    trusted_proxies: int = 0
    intake_public_limit: str = "5 per hour"
    intake_max_bytes: int = 64 * 1024
    recurrence_months: int = 12
    # Workflows each process keeps live between requests (``engine.bpmn.live``); 0 keeps none.
    live_workflows: int = 256
    audit_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance = Path(env.get("RECTIFLOW_INSTANCE_PATH", str(Path.cwd() / "instance"))).resolve()
        url = env.get("RECTIFLOW_DATABASE_URL") or f"sqlite:///{instance / 'rectiflow.sqlite3'}"
        return cls(
            instance_path=instance,
            database_url=url,
            database_pool=_choice(env, "RECTIFLOW_DATABASE_POOL", DATABASE_POOLS),
            processes_path=Path(env.get("RECTIFLOW_PROCESSES_PATH", str(BUNDLED_PROCESSES))),
            max_upload_bytes=int(env.get("RECTIFLOW_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))),
            imports=ImportLimits.from_env(env),
            evidence=EvidenceSettings.from_env(env),
            timezone=env.get("RECTIFLOW_TIMEZONE", "Asia/Shanghai"),
            mail=MailSettings.from_env(env),
            history_retention_days=_retention_days(env.get("RECTIFLOW_HISTORY_RETENTION_DAYS", "")),
            secret_key=env.get("RECTIFLOW_SECRET_KEY") or None,
            cookie_secure=_flag(env, "RECTIFLOW_COOKIE_SECURE", default=True),
            session_hours=float(env.get("RECTIFLOW_SESSION_HOURS", "12")),
            idempotency_hours=float(env.get("RECTIFLOW_IDEMPOTENCY_HOURS", "24")),
            oidc=OidcSettings.from_env(env),
            token_ttl_minutes=int(env.get("RECTIFLOW_TOKEN_TTL_MINUTES", "480")),
            login_limit=env.get("RECTIFLOW_LOGIN_LIMIT", "5 per minute"),
            login_address_limit=env.get("RECTIFLOW_LOGIN_ADDRESS_LIMIT", "30 per minute"),
            ratelimit_storage_uri=env.get("RECTIFLOW_RATELIMIT_STORAGE_URI", "memory://"),
            trusted_proxies=_count(env, "RECTIFLOW_TRUSTED_PROXIES"),
            intake_public_limit=env.get("RECTIFLOW_INTAKE_PUBLIC_LIMIT", "5 per hour"),
            intake_max_bytes=int(env.get("RECTIFLOW_INTAKE_MAX_BYTES", str(64 * 1024))),
            recurrence_months=_positive(env, "RECTIFLOW_RECURRENCE_MONTHS")
            if env.get("RECTIFLOW_RECURRENCE_MONTHS", "").strip()
            else 12,
            live_workflows=_whole(env, "RECTIFLOW_LIVE_WORKFLOWS", 256),
            audit_key=env.get("RECTIFLOW_AUDIT_KEY") or None,
        )
