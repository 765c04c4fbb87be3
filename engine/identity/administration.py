"""Administrators' changes to people, departments and tokens, each written to the admin log with it.

The API and the admin pages both call these, so a change is logged the same way whichever was used.
``Actor`` names who acts and from where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine.audit import admin_log
from engine.identity import identity, passwords
from engine.identity.identity import KEEP, Keep
from engine.store.models import ApiToken, Department, User


@dataclass(frozen=True)
class Actor:
    username: str | None
    remote_addr: str | None

    def log(self, session: Session, action: str, target: str, **detail: Any) -> None:
        admin_log.record(session, self.username, action, target, self.remote_addr, **detail)


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    department: str | None,
    roles: list[str],
    display_name: str | None,
    password: str | None,
) -> User:
    if password is not None:
        passwords.check_acceptable(password)
    user = identity.add_user(session, username, department, roles, display_name, password)
    actor.log(
        session, "user.create", username, department=department, roles=sorted(user.roles), password=password is not None
    )
    return user


def change_user(
    session: Session,
    actor: Actor,
    user: User,
    *,
    display_name: str | None = None,
    department: str | Keep | None = KEEP,
    active: bool | None = None,
    roles: list[str] | None = None,
    password: str | None = None,
) -> None:
    """Change what is given; each kind of change is its own admin-log entry."""
    changes = identity.update_user(session, user, display_name=display_name, department_code=department, active=active)
    if changes:
        actor.log(session, "user.update", user.username, changes=changes)
    moved = identity.set_roles(session, user, roles) if roles is not None else None
    if moved:
        actor.log(session, "user.roles", user.username, before=moved[0], after=moved[1])
    if password is not None:
        passwords.check_acceptable(password)
        ended = identity.set_password(session, user, password)
        actor.log(session, "user.password", user.username, login_tokens_revoked=ended)


def sign_out_everywhere(session: Session, actor: Actor, user: User) -> None:
    """End every browser session of the user and revoke their login tokens (a lost laptop, a shared screen)."""
    ended = identity.sign_out(session, user)
    actor.log(session, "user.sign_out", user.username, login_tokens_revoked=ended)


def link_sso(session: Session, actor: Actor, user: User, issuer: str, subject: str) -> None:
    """Let this single sign-on identity log in as ``user`` (an existing account is never taken over by a claim)."""
    before = [user.sso_issuer, user.sso_subject] if user.sso_subject is not None else None
    identity.link_sso(session, user, issuer, subject)
    actor.log(session, "user.sso_link", user.username, issuer=issuer, subject=subject, before=before)


def create_department(session: Session, actor: Actor, code: str, name: str, external: bool) -> Department:
    department = identity.add_department(session, code, name, external)
    actor.log(session, "department.create", code, name=name, external=external)
    return department


def revoke_token(session: Session, actor: Actor, row: ApiToken, **detail: Any) -> None:
    identity.revoke(row)
    actor.log(session, "token.revoke", str(row.id), username=row.user.username, **detail)
