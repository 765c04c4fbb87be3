"""A small, real OpenID Connect provider for tests, served over HTTP on a free loopback port.

Discovery, JWKS, ``/authorize`` (auto-approves: whoever the test put in ``claims`` is logged in),
``/token`` (client credentials, single-use code, PKCE; an RS256 ID token) and ``/userinfo``.
A test changes what the provider does by setting its attributes between logins.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

KID = "test-key"


def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})


@dataclass
class Provider:
    url: str = ""
    client_id: str = "rectiflow"
    client_secret: str = "provider-secret"
    # Who logs in next: ``sub`` plus any claims, put in the ID token and served by /userinfo.
    claims: dict[str, Any] = field(default_factory=dict)
    # Claims only /userinfo serves (as providers often do with groups and roles).
    userinfo_only: dict[str, Any] = field(default_factory=dict)
    # The published key; ``signing_key`` may be swapped for another to forge tokens.
    key: RSAKey = field(default_factory=rsa_key)
    signing_key: RSAKey | None = None
    # Set to an OAuth error code (``access_denied``) to refuse the next authorization.
    refuse: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/jwks", view_func=lambda: jsonify(keys=[self.key.as_dict(private=False)]))
        app.add_url_rule("/authorize", view_func=self.authorize)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/userinfo", view_func=self.userinfo)
        return app

    def discovery(self) -> Response:
        return jsonify(
            issuer=self.url,
            authorization_endpoint=f"{self.url}/authorize",
            token_endpoint=f"{self.url}/token",
            userinfo_endpoint=f"{self.url}/userinfo",
            jwks_uri=f"{self.url}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=["client_secret_basic"],
            code_challenge_methods_supported=["S256"],
        )

    def authorize(self) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            abort(400)
        back = {"state": args.get("state", "")}
        if self.refuse:
            back["error"] = self.refuse
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"args": args.to_dict(), "claims": {**self.claims}}
            back["code"] = code
        return redirect(f"{args['redirect_uri']}?{urlencode(back)}")

    def token(self) -> Response | tuple[Response, int]:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.client_id, self.client_secret):
            return jsonify(error="invalid_client"), 401
        grant = self.codes.pop(request.form.get("code", ""), None)  # a code is good once
        if grant is None or request.form.get("redirect_uri") != grant["args"]["redirect_uri"]:
            return jsonify(error="invalid_grant"), 400
        verifier = request.form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if challenge != grant["args"].get("code_challenge"):
            return jsonify(error="invalid_grant", error_description="PKCE verifier does not match"), 400
        now = int(time.time())
        id_claims = {
            **grant["claims"],
            "iss": self.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["args"].get("nonce"),
        }
        id_token = jwt.encode({"alg": "RS256", "kid": KID}, id_claims, self.signing_key or self.key)
        access_token = secrets.token_urlsafe(16)
        self.access_tokens[access_token] = grant["claims"]
        return jsonify(access_token=access_token, token_type="Bearer", expires_in=300, id_token=id_token)

    def userinfo(self) -> Response | tuple[Response, int]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if claims is None:
            return jsonify(error="invalid_token"), 401
        return jsonify({**claims, **self.userinfo_only})


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider on ``127.0.0.1`` and a free port, in a thread, for the duration of the block."""
    provider = Provider()
    server = make_server("127.0.0.1", 0, provider.app(), threaded=True)
    provider.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join()
