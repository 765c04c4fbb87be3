"""Departments, users, roles, passwords and API tokens (stored as SHA-256 of a random secret, never in clear)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, undefer

from engine.identity import passwords
from engine.store.errors import AlreadyExists, InvalidInput, NotFound, WrongCredentials
from engine.store.models import ApiToken, Department, User, UserRole, utcnow

# ``last_used_at`` is written at most this often per token, so that a burst of reads does not write each time.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# The name of tokens made by a password login (a new password revokes them).
LOGIN = "login"


class Role(enum.StrEnum):
    REPORTER = "reporter"
    MANAGER = "manager"
    MEMBER = "member"
    APPROVER = "approver"
    DESIGNER = "designer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # A program, not a person: an external worker fetching and completing service tasks.
    WORKER = "worker"


def add_department(session: Session, code: str, name: str, external: bool = False) -> Department:
    if session.scalar(select(Department).where((Department.code == code) | (Department.name == name))):
        raise AlreadyExists(f"单位已存在 Department {code!r} or {name!r} already exists")
    department = Department(code=code, name=name, external=external)
    session.add(department)
    session.flush()
    return department


def department_by_code(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def resolve_department(session: Session, code_or_name: str) -> Department | None:
    return session.scalar(
        select(Department).where((Department.code == code_or_name) | (Department.name == code_or_name))
    )


def departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


def _known_department(session: Session, code: str | None) -> Department | None:
    if code is None:
        return None
    department = department_by_code(session, code)
    if department is None:
        raise InvalidInput(f"未知单位 Unknown department {code!r}")
    return department


def _role_rows(roles: list[str]) -> list[UserRole]:
    unknown = sorted(set(roles) - {role.value for role in Role})
    if unknown:
        raise InvalidInput(f"未知角色 Unknown role(s): {', '.join(unknown)}")
    return [UserRole(role=role) for role in sorted(set(roles))]


def normal_username(name: str) -> str:
    """The one spelling of a username: NFKC (full-width and compatibility forms folded), outer spaces stripped.

    Logins, the lock-out key, single sign-on and user creation all go through this, so that
    ``" name"`` or ``"name\u3000"`` is the same person and the same lock-out counter as ``"name"``.
    """
    return unicodedata.normalize("NFKC", name).strip()


def _new_username(session: Session, username: str) -> str:
    """Refuse a name not in its normal spelling, or one that is another user's name once normalised."""
    normal = normal_username(username)
    if not normal or normal != username:
        raise InvalidInput(f"用户名须为规范写法 Username {username!r} must be written {normal!r}")
    if session.scalar(select(User).where(User.username == normal)):
        raise AlreadyExists(f"用户已存在 User {username!r} already exists")
    return normal


def add_user(
    session: Session,
    username: str,
    department_code: str | None,
    roles: list[str],
    display_name: str | None = None,
    password: str | None = None,
) -> User:
    role_rows = _role_rows(roles)
    username = _new_username(session, username)
    department = _known_department(session, department_code)
    user = User(username=username, display_name=display_name or username, department=department)
    user.role_rows = role_rows
    if password is not None:
        user.password_hash = passwords.hash_password(password)
    session.add(user)
    session.flush()
    return user


def users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


class _Keep(enum.Enum):
    """Leave a field as it is (``None`` is a value: no department)."""

    KEEP = enum.auto()


KEEP: Literal[_Keep.KEEP] = _Keep.KEEP
Keep = Literal[_Keep.KEEP]


def update_user(
    session: Session,
    user: User,
    *,
    display_name: str | None = None,
    department_code: str | Literal[_Keep.KEEP] | None = KEEP,
    active: bool | None = None,
) -> dict[str, list[object]]:
    """Change what is given; return ``{field: [before, after]}`` for what really changed (for the admin log)."""
    changes: dict[str, list[object]] = {}
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = [user.display_name, display_name]
        user.display_name = display_name
    if department_code is not KEEP:
        department = _known_department(session, department_code)
        before = user.department.code if user.department else None
        if department_code != before:
            changes["department"] = [before, department_code]
            user.department = department
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
        user.active = active
        if not active:
            # For good: reactivating the user must not bring back the sessions and login tokens of before.
            sign_out(session, user)
    session.flush()
    return changes


def set_roles(session: Session, user: User, roles: list[str]) -> tuple[list[str], list[str]] | None:
    """Replace the user's roles; return (before, after), or None when they were already these."""
    rows = _role_rows(roles)
    before = sorted(user.roles)
    after = [row.role for row in rows]
    if before == after:
        return None
    user.role_rows = rows
    session.flush()
    return before, after


def set_password(session: Session, user: User, password: str) -> int:
    """Set a new password; the browser sessions and login tokens of the old one end (how many tokens is returned)."""
    user.password_hash = passwords.hash_password(password)
    return sign_out(session, user)


def end_sessions(user: User) -> None:
    """End every browser session of the user: each carries the generation it was started in."""
    user.session_generation = (user.session_generation or 0) + 1


def sign_out(session: Session, user: User) -> int:
    """End the user's browser sessions and revoke the tokens made by a password login (how many is returned).

    Tokens an administrator made for a program stay: they are revoked one by one, or all stop with deactivation.
    """
    end_sessions(user)
    live = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == LOGIN, ApiToken.revoked_at.is_(None))
    ended = list(session.scalars(live))
    for row in ended:
        revoke(row)
    session.flush()
    return len(ended)


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在 No user {username!r}")
    return user


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is shown once and never stored."""

    secret: str
    row: ApiToken


def issue_token(session: Session, user: User, name: str = "", expires_at: dt.datetime | None = None) -> IssuedToken:
    secret = "rf_" + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=_hash(secret), name=name, expires_at=expires_at)
    session.add(row)
    session.flush()
    return IssuedToken(secret, row)


def create_token(session: Session, username: str, name: str = "") -> str:
    """Return a new secret token that lives until revoked; only its hash is stored."""
    return issue_token(session, user_by_username(session, username), name).secret


def check_password(session: Session, username: str, password: str) -> User:
    """The active user with this name and password (the API's token login and the login page both ask).

    An unknown name, an inactive user, a user without a password and a wrong password are one and the
    same refusal, answered in the same time.
    """
    query = select(User).where(User.username == normal_username(username)).options(undefer(User.password_hash))
    user = session.scalar(query)
    stored = user.password_hash if user is not None else None
    if not passwords.verify(stored, password) or user is None or stored is None or not user.active:
        raise WrongCredentials()
    if passwords.needs_rehash(stored):
        user.password_hash = passwords.hash_password(password)
    return user


def login(session: Session, username: str, password: str, lifetime: dt.timedelta) -> IssuedToken:
    """Exchange a username and password for a token named "login" that expires after ``lifetime``."""
    return issue_token(session, check_password(session, username, password), LOGIN, utcnow() + lifetime)


def authenticate(session: Session, token: str, note: bool = True) -> ApiToken | None:
    """The live (neither expired nor revoked) token of an active user; notes when it was last used.

    ``note=False`` for a transaction that only reads: the caller notes the use apart (:func:`note_use`).
    """
    now = utcnow()
    # One query for token, user and roles: this runs on every request.
    query = (
        select(ApiToken)
        .where(
            ApiToken.token_hash == _hash(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at.is_(None) | (ApiToken.expires_at > now),
        )
        .options(joinedload(ApiToken.user).joinedload(User.role_rows))
    )
    row = session.scalars(query).unique().one_or_none()
    if row is None or not row.user.active:
        return None
    if note and use_due(row, now):
        row.last_used_at = now
    return row


def use_due(row: ApiToken, now: dt.datetime) -> bool:
    """Whether a use of the token now is worth writing down (at most once per LAST_USED_RESOLUTION)."""
    return row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION


def note_use(session: Session, token_id: int, now: dt.datetime) -> bool:
    """Write down a token's use unless its row is locked by another transaction (which may note it itself).

    Skipping a locked row (``SKIP LOCKED``) keeps a reader from waiting on a writer for bookkeeping.
    """
    free = select(ApiToken.id).where(ApiToken.id == token_id).with_for_update(skip_locked=True)
    result = session.execute(update(ApiToken).where(ApiToken.id.in_(free)).values(last_used_at=now))
    return bool(getattr(result, "rowcount", 0))


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens, revoked and expired ones included, oldest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def token_by_id(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"令牌不存在 No token {token_id}")
    return row


def user_by_sso(session: Session, issuer: str, subject: str) -> User | None:
    return session.scalar(select(User).where(User.sso_issuer == issuer, User.sso_subject == subject))


def link_sso(session: Session, user: User, issuer: str, subject: str) -> None:
    """Tie the user to one single sign-on identity; an identity belongs to one user at most."""
    other = user_by_sso(session, issuer, subject)
    if other is not None and other.id != user.id:
        raise AlreadyExists(
            f"该身份已关联 The sign-on subject {subject!r} of {issuer!r} is linked to {other.username!r}"
        )
    user.sso_issuer, user.sso_subject = issuer, subject
    session.flush()


def revoke(row: ApiToken) -> None:
    """Revoke a token for good; revoking it again keeps the first moment."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
