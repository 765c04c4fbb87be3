"""Log in with a username and password (or single sign-on when configured), log out, pick a language."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.identity import identity
from engine.store.errors import WrongCredentials
from web import browser_session, db, security, trail
from web.pages.base import LOCALE_KEY, LOCALES, csrf, local_path

bp = Blueprint("account", __name__)


@bp.get("/login")
def form() -> str:
    return render_template("login.html", next=local_path(request.args.get("next")), error=None)


@bp.post("/login")
def submit() -> Response | tuple[str, int]:
    csrf.protect()
    username = identity.normal_username(request.form.get("username", ""))
    password = request.form.get("password", "")
    target = local_path(request.form.get("next"))
    security.count_login_attempt(username)
    try:
        user = identity.check_password(db.session(), username, password)
    except WrongCredentials:
        trail.record_apart("login.failed", username)
        error = _("用户名或密码错误")
        return render_template("login.html", next=target, error=error, username=username), 401
    security.login_succeeded(username)
    browser_session.login(user)
    return redirect(target)


@bp.post("/logout")
def logout() -> Response:
    csrf.protect()
    browser_session.logout()
    return redirect(url_for("account.form"))


@bp.get("/language/<code>")
def language(code: str) -> Response:
    if code in LOCALES:
        session[LOCALE_KEY] = code
    return redirect(local_path(request.args.get("next")))
