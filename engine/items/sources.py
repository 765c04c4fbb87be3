"""问题来源: the office's own list of where problems are found, kept by administrators.

The new item form, the API and the ledger import accept any active source. Until an administrator
first edits it, the list is :data:`DEFAULTS`; the first edit stores those, so nothing changes under
anyone's feet. A source is taken off the list (inactive), never deleted: old items still name it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import admin_log
from engine.identity import permissions
from engine.store.errors import AlreadyExists, InvalidInput, NotFound
from engine.store.models import Source, User
from engine.store.text import unstorable

# 献一策: staff suggestions (我为…献一策), a source of the intake channel (``engine.intake``).
DEFAULTS = ("自查", "走访调研", "群众反映", "献一策", "上级督查", "巡察", "审计", "其他")
MAX_NAME = 50


def listed(session: Session) -> list[Source]:
    """Every source, active or not, in the office's order (the defaults, unsaved, until the first edit)."""
    found = list(session.scalars(select(Source).order_by(Source.position, Source.id)))
    return found or [Source(name=name, active=True, position=n) for n, name in enumerate(DEFAULTS)]


def active(session: Session) -> list[str]:
    """The sources a new or imported item may name, in the office's order."""
    return [source.name for source in listed(session) if source.active]


def require_active(session: Session, name: str | None) -> None:
    """An item's source must be on the list (or left empty)."""
    names = active(session)
    if name is not None and name not in names:
        message = f"未知问题来源 Unknown source {name!r}: one of {'、'.join(names)}"
        raise InvalidInput(message, errors=[{"field": "source", "message": message}])


def _stored(session: Session) -> list[Source]:
    """The list as rows, storing the defaults on the first edit."""
    if session.scalar(select(func.count()).select_from(Source)) == 0:
        session.add_all(listed(session))
        session.flush()
    return list(session.scalars(select(Source).order_by(Source.position, Source.id)))


def _checked_name(name: str) -> str:
    name = name.strip()
    problem = unstorable(name)
    if not name:
        problem = "请填写问题来源 A source needs a name"
    elif len(name) > MAX_NAME:
        problem = f"最多 {MAX_NAME} 字 At most {MAX_NAME} characters"
    if problem:
        raise InvalidInput(problem, errors=[{"field": "name", "message": problem}])
    return name


def add(session: Session, actor: User, name: str, remote_addr: str | None = None) -> Source:
    """Put a source on the list (at its end), or back on it if it was taken off."""
    permissions.require_admin(actor)
    name = _checked_name(name)
    rows = _stored(session)
    found = next((row for row in rows if row.name == name), None)
    if found is not None and found.active:
        message = f"问题来源已在列表中 {name!r} is already on the list"
        raise AlreadyExists(message, errors=[{"field": "name", "message": message}])
    if found is None:
        found = Source(name=name, active=True, position=max((row.position for row in rows), default=-1) + 1)
        session.add(found)
    found.active = True
    session.flush()
    admin_log.record(session, actor.username, "source.add", name, remote_addr)
    return found


def deactivate(session: Session, actor: User, name: str, remote_addr: str | None = None) -> Source:
    """Take a source off the list: new items can no longer name it, old ones keep it."""
    permissions.require_admin(actor)
    found = next((row for row in _stored(session) if row.name == name), None)
    if found is None:
        raise NotFound(f"没有问题来源 {name!r} No source {name!r}")
    found.active = False
    admin_log.record(session, actor.username, "source.deactivate", name, remote_addr)
    return found
