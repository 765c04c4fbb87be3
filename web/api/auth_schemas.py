"""marshmallow schemas of login, tokens, people, departments and the admin log."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.identity import passwords
from engine.identity.identity import Role
from web.api.schemas import MAX_PAGE, Text

USERNAME = validate.Length(min=1, max=64)
# Length is checked by ``engine.identity.passwords`` (one rule for API and command line); this only bounds the body.
PASSWORD = validate.Length(min=1, max=passwords.MAX_LENGTH)


def _roles(**options: Any) -> fields.List:
    return fields.List(Text(validate=validate.OneOf([role.value for role in Role])), **options)


class LoginSchema(Schema):
    username = Text(required=True, validate=USERNAME)
    password = Text(required=True, validate=PASSWORD, load_only=True)


class IssuedTokenSchema(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "send as `Authorization: Bearer <token>`; shown only now"})
    expires_at = fields.DateTime()


class TokenSchema(Schema):
    id = fields.Integer()
    username = fields.String(attribute="user.username")
    name = fields.String(metadata={"description": "what it is for; `login` for tokens from a password"})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: valid until revoked"})
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})
    revoked_at = fields.DateTime(allow_none=True)


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenSchema))


class TokenQuerySchema(Schema):
    username = Text(validate=USERNAME, metadata={"description": "another user's tokens (administrators only)"})


class DepartmentSchema(Schema):
    code = Text(required=True, validate=validate.Length(min=1, max=64))
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    external = fields.Boolean(load_default=False, metadata={"description": "a unit outside the office"})


class DepartmentListSchema(Schema):
    departments = fields.List(fields.Nested(DepartmentSchema))


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    department = fields.String(allow_none=True, metadata={"description": "department code"})
    roles = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserListSchema(Schema):
    users = fields.List(fields.Nested(UserSchema))


class UserCreateSchema(Schema):
    username = Text(required=True, validate=USERNAME)
    display_name = Text(load_default=None, validate=validate.Length(min=1, max=200))
    department = Text(load_default=None, allow_none=True, metadata={"description": "department code"})
    roles = _roles(required=True, validate=validate.Length(min=1, max=len(Role)))
    password = Text(
        load_default=None, validate=PASSWORD, metadata={"description": "at least 12 characters; none: no login"}
    )


class UserUpdateSchema(Schema):
    """Only the fields sent change."""

    display_name = Text(validate=validate.Length(min=1, max=200))
    department = Text(allow_none=True, metadata={"description": "department code; null: none"})
    roles = _roles(validate=validate.Length(min=1, max=len(Role)))
    active = fields.Boolean(metadata={"description": "false: refused at login and with every token"})
    password = Text(validate=PASSWORD, metadata={"description": "a new password (reset)"})


class UserSsoLinkSchema(Schema):
    subject = Text(required=True, validate=validate.Length(min=1, max=255), metadata={"description": "the `sub`"})
    issuer = Text(validate=validate.Length(min=1, max=500), metadata={"description": "default: the configured one"})


class AdminLogQuerySchema(Schema):
    actor = Text(validate=validate.Length(max=64))
    action = Text(validate=validate.Length(max=64), metadata={"description": "e.g. denied, user.roles, login.locked"})
    since = fields.Date(metadata={"description": "from this office date (included)"})
    until = fields.Date(metadata={"description": "to this office date (included)"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AdminLogEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(allow_none=True, metadata={"description": "a username, cli:<OS user>, or null"})
    action = fields.String()
    target = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)
    detail = fields.Dict()


class AdminLogPageSchema(Schema):
    entries = fields.List(fields.Nested(AdminLogEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
