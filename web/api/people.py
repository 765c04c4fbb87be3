"""People and departments, managed by administrators; every change goes to the admin log."""

from __future__ import annotations

from typing import Any

from flask import url_for

from engine.identity import administration, identity, permissions
from engine.store.errors import InvalidInput
from engine.store.models import Department, User
from web import db, trail
from web.api.auth_schemas import (
    DepartmentListSchema,
    DepartmentSchema,
    UserCreateSchema,
    UserListSchema,
    UserSchema,
    UserSsoLinkSchema,
    UserUpdateSchema,
)
from web.api.blueprint import Blueprint
from web.auth import check_first

users_blp = Blueprint("users", __name__, url_prefix="/users", description="用户 People (administrators)")
departments_blp = Blueprint(
    "departments", __name__, url_prefix="/departments", description="单位 Departments (administrators)"
)


def _admin(user: User, **_url_values: str) -> None:
    """Before the body is read, whatever the URL names: only administrators manage people."""
    permissions.require_admin(user)


def _user(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department.code if user.department else None,
        "roles": sorted(user.roles),
        "active": user.active,
        "created_at": user.created_at,
    }


@users_blp.route("", methods=["GET"])
@check_first(_admin)
@users_blp.response(200, UserListSchema)
@users_blp.problems(403)
def list_users() -> dict[str, Any]:
    return {"users": [_user(user) for user in identity.users(db.session())]}


@users_blp.route("", methods=["POST"])
@check_first(_admin)
@users_blp.arguments(UserCreateSchema)
@users_blp.idempotent()
@users_blp.response(201, UserSchema)
@users_blp.problems(400, 403, 409, 422)
def create_user(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A new user; without a password they sign in with tokens only."""
    user = administration.create_user(
        db.session(),
        trail.actor(),
        body["username"],
        body["department"],
        body["roles"],
        body["display_name"],
        body["password"],
    )
    return _user(user), 201, {"Location": url_for(".get_user", username=user.username)}


@users_blp.route("/<username>", methods=["GET"])
@check_first(_admin)
@users_blp.response(200, UserSchema)
@users_blp.problems(403, 404)
def get_user(username: str) -> dict[str, Any]:
    return _user(identity.user_by_username(db.session(), username))


@users_blp.route("/<username>", methods=["PATCH"])
@check_first(_admin)
@users_blp.arguments(UserUpdateSchema)
@users_blp.response(200, UserSchema)
@users_blp.problems(400, 403, 404, 422)
def update_user(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Change the display name, department, roles, whether active, or set a new password."""
    session = db.session()
    user = identity.user_by_username(session, username)
    administration.change_user(
        session,
        trail.actor(),
        user,
        display_name=body.get("display_name"),
        department=body.get("department", identity.KEEP),
        active=body.get("active"),
        roles=body.get("roles"),
        password=body.get("password"),
    )
    return _user(user)


@users_blp.route("/<username>/sign-out", methods=["POST"])
@check_first(_admin)
@users_blp.response(204)
@users_blp.problems(403, 404)
def sign_out(username: str) -> None:
    """Sign out everywhere: end every browser session of the user and revoke their login tokens."""
    session = db.session()
    administration.sign_out_everywhere(session, trail.actor(), identity.user_by_username(session, username))


@users_blp.route("/<username>/sso", methods=["PUT"])
@check_first(_admin)
@users_blp.arguments(UserSsoLinkSchema)
@users_blp.response(200, UserSchema)
@users_blp.problems(400, 403, 404, 409, 422)
def link_sso(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Let the single sign-on identity ``subject`` (the provider's ``sub``) log in as this existing user."""
    session = db.session()
    user = identity.user_by_username(session, username)
    issuer = body.get("issuer") or _configured_issuer()
    administration.link_sso(session, trail.actor(), user, issuer, body["subject"])
    return _user(user)


def _configured_issuer() -> str:
    oidc = db.settings().oidc
    if oidc is None:
        raise InvalidInput("未配置单点登录 No RECTIFLOW_OIDC_ISSUER is configured: name the issuer")
    return oidc.issuer


@departments_blp.route("", methods=["GET"])
@check_first(_admin)
@departments_blp.response(200, DepartmentListSchema)
@departments_blp.problems(403)
def list_departments() -> dict[str, Any]:
    return {"departments": identity.departments(db.session())}


@departments_blp.route("", methods=["POST"])
@check_first(_admin)
@departments_blp.arguments(DepartmentSchema)
@departments_blp.idempotent()
@departments_blp.response(201, DepartmentSchema)
@departments_blp.problems(400, 403, 409, 422)
def create_department(body: dict[str, Any]) -> Department:
    return administration.create_department(db.session(), trail.actor(), body["code"], body["name"], body["external"])
