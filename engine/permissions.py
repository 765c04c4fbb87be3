"""Role rules for actions that are not BPMN tasks (tasks follow the diagram's lanes: ``assignment``)."""

from __future__ import annotations

from engine.errors import Forbidden
from engine.identity import Role
from engine.models import User


def require_reporter(user: User) -> None:
    """Reporters raise items."""
    if Role.REPORTER not in user.roles:
        raise Forbidden("只有填报人可以登记问题 Only reporters may raise items")


def require_designer(user: User) -> None:
    """Designers deploy diagrams."""
    if Role.DESIGNER not in user.roles:
        raise Forbidden("只有流程设计人员可以部署流程 Only process designers may deploy diagrams")
