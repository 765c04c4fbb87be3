"""Single sign-on: an identity provider's validated claims become a local user.

The provider stays authoritative: at every login the user's department and roles are set from the
claims, and the admin log records what a login created or changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import admin_log
from engine.identity import identity
from engine.store.config import OidcSettings
from engine.store.errors import Forbidden
from engine.store.models import Department, User, UserRole

KNOWN_ROLES = frozenset(role.value for role in identity.Role)


def check_settings(settings: OidcSettings) -> None:
    """Refuse, at start, a role map that grants roles the product does not know."""
    unknown = sorted({role for roles in (settings.role_map or {}).values() for role in roles} - KNOWN_ROLES)
    if unknown:
        raise ValueError(f"RECTIFLOW_OIDC_ROLE_MAP names unknown role(s): {', '.join(unknown)}")


def sign_in(
    session: Session, claims: Mapping[str, Any], settings: OidcSettings, remote_addr: str | None = None
) -> User:
    """The user linked to the claims' ``sub`` at this issuer, updated from the claims; created at its first login.

    The claimed username only names a *new* user: an existing account of that name is linked by an
    administrator, never taken over by a claim. An inactive user or an unknown department is refused.
    """
    subject = _subject(claims)
    user = identity.user_by_sso(session, settings.issuer, subject)
    username = user.username if user is not None else _username(claims, settings)
    if user is not None and not user.active:
        raise Forbidden(f"用户已停用 User {username!r} is deactivated here: ask an administrator")
    if user is None and session.scalar(select(User).where(User.username == username)) is not None:
        raise Forbidden(
            f"账号需由管理员关联 A user {username!r} already exists here: an administrator must link it to this "
            "sign-on (rectiflow user link-sso) before it can log in this way"
        )
    department = _department(session, claims.get(settings.department_claim), settings)
    roles = mapped_roles(claims.get(settings.roles_claim), settings)
    display_name = str(claims.get("name") or username)[:200]
    if user is None:
        return _create(session, username, display_name, department, roles, (settings.issuer, subject), remote_addr)
    user.display_name = display_name
    changes = _update(user, department, roles)
    if changes:
        admin_log.record(session, username, "user.sso_update", target=username, remote_addr=remote_addr, **changes)
    session.flush()
    return user


def _create(
    session: Session,
    username: str,
    display_name: str,
    department: Department | None,
    roles: frozenset[str],
    sso: tuple[str, str],
    remote_addr: str | None,
) -> User:
    user = User(username=username, display_name=display_name, department=department)
    user.sso_issuer, user.sso_subject = sso
    user.role_rows = [UserRole(role=role) for role in sorted(roles)]
    session.add(user)
    session.flush()
    admin_log.record(
        session,
        username,
        "user.sso_create",
        target=username,
        remote_addr=remote_addr,
        department=department.code if department else None,
        roles=sorted(roles),
    )
    return user


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise Forbidden("身份信息缺少 sub The identity provider sent no usable 'sub' claim")
    return subject


def mapped_roles(value: Any, settings: OidcSettings) -> frozenset[str]:
    """The product roles a roles claim grants; values the product does not know are ignored."""
    if isinstance(value, str):
        values = re.split(r"[\s,]+", value)
    elif isinstance(value, list):
        values = [str(item) for item in value]
    else:
        values = []
    if settings.role_map is None:
        return frozenset(values) & KNOWN_ROLES
    return frozenset(role for item in values for role in settings.role_map.get(item, ()))


def _username(claims: Mapping[str, Any], settings: OidcSettings) -> str:
    claimed = claims.get(settings.username_claim)
    username = identity.normal_username(claimed) if isinstance(claimed, str) else ""
    if not username:
        raise Forbidden(f"身份信息缺少用户名 The identity provider sent no {settings.username_claim!r} claim")
    if len(username) > 64:
        raise Forbidden(f"用户名过长 The {settings.username_claim!r} claim is longer than 64 characters")
    return username


def _department(session: Session, value: Any, settings: OidcSettings) -> Department | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Forbidden(f"单位无效 The {settings.department_claim!r} claim must be one department code or name")
    department = identity.resolve_department(session, value.strip())
    if department is None:
        raise Forbidden(
            f"未知单位 Unknown department {value!r} in the {settings.department_claim!r} claim: "
            "an administrator must add it before its people can log in"
        )
    return department


def _update(user: User, department: Department | None, roles: frozenset[str]) -> dict[str, Any]:
    """Apply the provider's department and roles; return what changed, as ``{field: [before, after]}``."""
    changes: dict[str, Any] = {}
    if user.department_id != (department.id if department else None):
        before = user.department.code if user.department else None
        changes["department"] = [before, department.code if department else None]
        user.department = department
    if user.roles != roles:
        changes["roles"] = [sorted(user.roles), sorted(roles)]
        # Keep the rows that stay: deleting and re-inserting the same key in one flush would collide.
        kept = [row for row in user.role_rows if row.role in roles]
        user.role_rows = kept + [UserRole(role=role) for role in sorted(roles - user.roles)]
    return changes
