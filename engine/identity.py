"""Departments, users, roles and API tokens (stored as SHA-256 of a random secret, never in clear)."""

from __future__ import annotations

import hashlib
import secrets
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from engine.errors import InvalidInput, NotFound
from engine.models import ApiToken, Department, User, UserRole


class Role(StrEnum):
    REPORTER = "reporter"
    MANAGER = "manager"
    MEMBER = "member"
    APPROVER = "approver"
    DESIGNER = "designer"
    AUDITOR = "auditor"
    ADMIN = "admin"


def add_department(session: Session, code: str, name: str, external: bool = False) -> Department:
    if session.scalar(select(Department).where((Department.code == code) | (Department.name == name))):
        raise InvalidInput(f"单位已存在 Department {code!r} or {name!r} already exists")
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


def add_user(
    session: Session, username: str, department_code: str | None, roles: list[str], display_name: str | None = None
) -> User:
    unknown = sorted(set(roles) - {role.value for role in Role})
    if unknown:
        raise InvalidInput(f"未知角色 Unknown role(s): {', '.join(unknown)}")
    if session.scalar(select(User).where(User.username == username)):
        raise InvalidInput(f"用户已存在 User {username!r} already exists")
    department = None
    if department_code is not None:
        department = department_by_code(session, department_code)
        if department is None:
            raise InvalidInput(f"未知单位 Unknown department {department_code!r}")
    user = User(username=username, display_name=display_name or username, department=department)
    user.role_rows = [UserRole(role=role) for role in sorted(set(roles))]
    session.add(user)
    session.flush()
    return user


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在 No user {username!r}")
    return user


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, username: str, name: str = "") -> str:
    """Return a new secret token; only its hash is stored."""
    user = user_by_username(session, username)
    token = "rf_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=_hash(token), name=name))
    session.flush()
    return token


def authenticate(session: Session, token: str) -> User | None:
    # One query for token, user and roles: this runs on every request.
    query = (
        select(ApiToken)
        .where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.user).joinedload(User.role_rows))
    )
    row = session.scalars(query).unique().one_or_none()
    if row is None or not row.user.active:
        return None
    return row.user
