"""系统管理 Administration: departments, people and their roles, their tokens, the sources. Administrators only."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.identity import administration, identity, permissions
from engine.identity.identity import Role
from engine.intake import public
from engine.items import sources
from web import db
from web.pages.base import me, require_login
from web.pages.errors import handle_on

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_login)
handle_on(bp)


@bp.before_request
def _admins_only() -> None:
    permissions.require_admin(me())


def _actor() -> administration.Actor:
    return administration.Actor(me().username, request.remote_addr)


def _page(editing: str | None = None) -> str:
    session = db.session()
    user = identity.user_by_username(session, editing) if editing else None
    return render_template(
        "admin.html",
        users=identity.users(session),
        departments=identity.departments(session),
        roles=[role.value for role in Role],
        editing=user,
        tokens=identity.tokens_of(session, user) if user else [],
        sources=sources.listed(session),
        public_intake=public.enabled(session),
    )


@bp.get("")
def people() -> str:
    return _page(request.args.get("user"))


@bp.post("/public-intake")
def switch_public_intake() -> Response:
    """公众反映渠道: open or close the public form (in the admin log as ``intake.public``)."""
    on = public.set_enabled(db.session(), me(), request.form.get("enabled") == "on", request.remote_addr)
    flash(_("公众反映渠道已开放") if on else _("公众反映渠道已关闭"))
    return redirect(url_for(".people"))


@bp.post("/departments")
def add_department() -> Response:
    form = request.form
    administration.create_department(
        db.session(), _actor(), form.get("code", "").strip(), form.get("name", "").strip(), "external" in form
    )
    flash(_("已添加单位"))
    return redirect(url_for(".people"))


@bp.post("/sources")
def add_source() -> Response:
    found = sources.add(db.session(), me(), request.form.get("name", ""), request.remote_addr)
    flash(_("已启用问题来源 %(name)s", name=found.name))
    return redirect(url_for(".people"))


@bp.post("/sources/deactivate")
def deactivate_source() -> Response:
    found = sources.deactivate(db.session(), me(), request.form.get("name", ""), request.remote_addr)
    flash(_("已停用问题来源 %(name)s", name=found.name))
    return redirect(url_for(".people"))


@bp.post("/users")
def add_user() -> Response:
    form = request.form
    user = administration.create_user(
        db.session(),
        _actor(),
        form.get("username", "").strip(),
        form.get("department") or None,
        form.getlist("roles"),
        form.get("display_name", "").strip() or None,
        form.get("password") or None,
    )
    flash(_("已添加用户 %(name)s", name=user.username))
    return redirect(url_for(".people", user=user.username))


@bp.post("/users/<username>")
def change_user(username: str) -> Response:
    session, form = db.session(), request.form
    user = identity.user_by_username(session, username)
    administration.change_user(
        session,
        _actor(),
        user,
        display_name=form.get("display_name", "").strip() or None,
        department=form.get("department") or None,
        active="active" in form,
        roles=form.getlist("roles"),
        password=form.get("password") or None,
    )
    flash(_("已保存 %(name)s", name=username))
    return redirect(url_for(".people", user=username))


@bp.post("/users/<username>/sign-out")
def sign_out(username: str) -> Response:
    session = db.session()
    administration.sign_out_everywhere(session, _actor(), identity.user_by_username(session, username))
    flash(_("已将 %(name)s 从所有设备登出", name=username))
    return redirect(url_for(".people", user=username))


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> Response:
    session = db.session()
    row = identity.token_by_id(session, token_id)
    administration.revoke_token(session, _actor(), row)
    flash(_("已吊销令牌"))
    return redirect(url_for(".people", user=row.user.username))
