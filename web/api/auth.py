"""Password login for a token, and the tokens of a user: list, revoke, log out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from engine.identity import administration, identity, permissions
from engine.store.errors import WrongCredentials
from engine.store.models import User
from web import db, security, trail
from web.api.auth_schemas import IssuedTokenSchema, LoginSchema, TokenListSchema, TokenQuerySchema
from web.api.blueprint import Blueprint
from web.auth import current_token, current_user

# Login needs no token; everything else here does.
login_blp = Blueprint("login", __name__, url_prefix="/auth", description="登录 Password login", protected=False)
blp = Blueprint("tokens", __name__, url_prefix="/auth", description="令牌 Tokens")


@login_blp.route("/token", methods=["POST"])
@login_blp.arguments(LoginSchema)
@login_blp.response(201, IssuedTokenSchema, description="A token that expires after the configured time")
@login_blp.problems(400, 422, 429, described={401: "Wrong username or password (or the user is inactive)"})
@login_blp.doc(security=[])
def log_in(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange a username and password for a bearer token that expires."""
    lifetime = dt.timedelta(minutes=db.settings().token_ttl_minutes)
    username = identity.normal_username(body["username"])
    security.count_login_attempt(username)
    try:
        issued = identity.login(db.session(), username, body["password"], lifetime)
    except WrongCredentials:
        trail.record_apart("login.failed", username)
        raise
    security.login_succeeded(username)
    return {"id": issued.row.id, "token": issued.secret, "expires_at": issued.row.expires_at}


def _whose(session: Session, username: str | None) -> User:
    """The caller, or (for administrators) the user named."""
    me = current_user()
    if username is None or username == me.username:
        return me
    permissions.require_admin(me)
    return identity.user_by_username(session, username)


@blp.route("/tokens", methods=["GET"])
@blp.arguments(TokenQuerySchema, location="query")
@blp.response(200, TokenListSchema)
@blp.problems(403, 404, 422)
def list_tokens(query: dict[str, Any]) -> dict[str, Any]:
    """My tokens with their last use (never their secret); administrators may name another user."""
    session = db.session()
    return {"tokens": identity.tokens_of(session, _whose(session, query.get("username")))}


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
@blp.problems(403, 404)
def revoke_token(token_id: int) -> None:
    """Revoke one of my tokens (administrators: anyone's); it is refused from then on."""
    row = identity.token_by_id(db.session(), token_id)
    if row.user_id != current_user().id:
        permissions.require_admin(current_user())
    administration.revoke_token(db.session(), trail.actor(), row)


@blp.route("/logout", methods=["POST"])
@blp.response(204)
@blp.problems()
def log_out() -> None:
    """Revoke the token this request is made with."""
    administration.revoke_token(db.session(), trail.actor(), current_token(), logout=True)
