"""OpenID Connect login: ``/auth/oidc/login`` → the identity provider → ``/auth/oidc/callback``.

Registered only when ``RECTIFLOW_OIDC_ISSUER`` is set. Authlib keeps the state, nonce and PKCE
verifier in the session cookie, exchanges the code and validates the ID token (signature against
the provider's JWKS, issuer, audience, expiry, nonce); ``engine.identity.sso`` turns the claims into a user.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from engine.identity import sso
from engine.store.config import OidcSettings
from engine.store.errors import RectiflowError
from web import browser_session, db, security

blp = Blueprint("oidc", __name__, url_prefix="/auth/oidc")
NEXT_KEY = "oidc_next"
# Seconds for each call to the provider (discovery, keys, token, userinfo): a hung provider must not hang a worker.
PROVIDER_TIMEOUT = 10.0


class LoginRequestInvalid(RectiflowError):
    """This login request is not valid: start again from the login page."""


class LoginFailed(RectiflowError):
    """The identity provider did not confirm who you are: log in again."""


class ProviderUnavailable(RectiflowError):
    """The identity provider cannot be reached: try again later."""


def init_app(app: Flask, settings: OidcSettings) -> None:
    sso.check_settings(settings)
    # One registry per app: Authlib caches clients by name, and each app may have its own provider.
    client = OAuth(app).register(
        "oidc",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.metadata_url,
        client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256", "default_timeout": PROVIDER_TIMEOUT},
    )
    app.extensions["rectiflow_oidc"] = client
    app.register_blueprint(blp)


@blp.get("/login")
def login() -> Response:
    target = _local_path(request.args.get("next", "/"))
    client = _client()
    session[NEXT_KEY] = target
    redirect_uri = _settings().redirect_uri or url_for("oidc.callback", _external=True)
    try:
        response: Response = client.authorize_redirect(redirect_uri)
    except requests.RequestException as exc:
        raise ProviderUnavailable() from exc
    return response


@blp.get("/callback")
@db.writes_on_get
def callback() -> Response:
    claims = _verified_claims(_client())
    user = sso.sign_in(db.session(), claims, _settings(), remote_addr=request.remote_addr)
    target = session.get(NEXT_KEY, "/")
    browser_session.login(user)
    return redirect(target)


def _settings() -> OidcSettings:
    settings = db.settings().oidc
    assert settings is not None, "the blueprint is registered only when OIDC is configured"
    return settings


def _client() -> Any:
    """The Authlib client, its provider discovered (once) and checked to be the configured issuer."""
    client = current_app.extensions["rectiflow_oidc"]
    settings = _settings()
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"身份提供方不可用 Cannot read {settings.metadata_url}: {exc}") from exc
    # OpenID Connect Discovery 4.3: a provider answering for another issuer is not ours.
    if metadata.get("issuer") != settings.issuer:
        raise ProviderUnavailable(
            f"身份提供方配置不符 {settings.metadata_url} names the issuer {metadata.get('issuer')!r}, "
            f"not the configured {settings.issuer!r}"
        )
    return client


def _verified_claims(client: Any) -> dict[str, Any]:
    try:
        token = client.authorize_access_token()
        if token.get("userinfo") is None:
            raise LoginFailed("身份提供方未返回 ID token The identity provider sent no ID token")
        return _with_userinfo(client, token, dict(token["userinfo"]))
    except MismatchingStateError as exc:
        raise LoginRequestInvalid(
            "登录状态不符 This callback does not match a login started in this browser "
            "(state missing, used already or forged): start again at /auth/oidc/login"
        ) from exc
    except OAuthError as exc:
        raise LoginFailed(f"身份提供方拒绝登录 The identity provider refused the login: {exc}") from exc
    except (JoseError, AuthlibBaseError) as exc:
        raise LoginFailed(f"ID token 无效 The ID token was rejected: {exc}") from exc
    except requests.RequestException as exc:
        raise ProviderUnavailable() from exc


def _with_userinfo(client: Any, token: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
    """Add the claims only the userinfo endpoint carries (providers often keep groups and roles there)."""
    if not client.server_metadata.get("userinfo_endpoint"):
        return claims
    extra = client.userinfo(token=token)
    # OpenID Connect Core 5.3.2: userinfo about another subject must not be used.
    if extra.get("sub") != claims.get("sub"):
        raise LoginFailed("身份信息不符 The userinfo response is about another subject than the ID token")
    # The signed ID token wins where both speak.
    return {**extra, **claims}


def _local_path(target: str) -> str:
    """``next`` must stay on this site (``web.security.is_local_path``); a login link that points away is refused."""
    if not security.is_local_path(target):
        raise LoginRequestInvalid(f"登录后去向无效 next must be a path on this site such as /items, not {target!r}")
    return target
