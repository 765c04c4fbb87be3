"""Camunda's assignment attributes on a user task: whom a diagram drawn in the Camunda modeler names.

- ``camunda:candidateGroups``: roles, comma-separated (``engine.identity.identity.Role``), each of them
  anyone holding it, or scoped to a unit: ``role:lead-unit`` (the item's responsible unit),
  ``role:task-unit`` (the unit a multi-instance task works on, its element variable ``unit``) or
  ``role:<department code>``. The groups of one task share one scope: its row stores one unit.
- ``camunda:candidateUsers``: usernames, comma-separated, or one ``${expression}``.
- ``camunda:assignee``: a username, or one ``${expression}``.

An expression is written as Camunda writes it, ``${...}``, but what is inside is Python, like every
expression of a diagram: compiled in the sandbox at deploy, evaluated in it over the task's data when
the task is reached (``name``). It yields a username, a comma-separated string of them or a list.
What the names then admit is ``engine.items.assignment``.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.task import Task as SpiffTask

from engine.bpmn.builder import ASSIGNEE, CANDIDATE_GROUPS, CANDIDATE_USERS, PEOPLE_EXTENSION, camunda_attribute
from engine.identity.identity import Role

__all__ = ["CANDIDATE_GROUPS", "CANDIDATE_USERS", "PEOPLE_EXTENSION", "camunda_attribute"]

# Where a run leaves the names they gave on the task (``task.internal_data``), for its row.
NAMED = "people"


class Scope(enum.StrEnum):
    LEAD_UNIT = "lead-unit"
    TASK_UNIT = "task-unit"


# More candidate users than this from one expression is a mistake (a list of every user?), not a choice.
MAX_USERS = 100
_EXPRESSION = re.compile(r"\s*\$\{(.*)\}\s*", re.DOTALL)


class Refused(ValueError):
    """What an attribute says cannot be honoured; the message says why."""


def expression(text: str) -> str | None:
    """The Python inside ``${...}`` when the whole attribute is one expression; None for literal names."""
    found = _EXPRESSION.fullmatch(text)
    if found is not None:
        return found.group(1)
    if "${" in text or "#{" in text:
        raise Refused("表达式须占满整个属性 An expression is the whole attribute: '${...}' alone, no text around it")
    return None


def names(text: str) -> list[str]:
    """Literal usernames, comma-separated."""
    return [name.strip() for name in text.split(",") if name.strip()]


def groups(text: str) -> tuple[list[str], str | None]:
    """The roles a ``candidateGroups`` names, and their one scope (a ``Scope`` or a department code; None: any)."""
    if "${" in text or "#{" in text:
        raise Refused("候选组须为角色名 candidateGroups names roles, not an expression")
    roles: list[str] = []
    scopes: set[str | None] = set()
    for group in names(text):
        role, _, scope = group.partition(":")
        if role.strip() not in set(Role):
            known = ", ".join(Role)
            raise Refused(f"未知角色 {role.strip()!r} Unknown role {role.strip()!r} in candidateGroups; known: {known}")
        if _ and not scope.strip():
            raise Refused(f"单位为空 {group!r} names no unit after ':' (lead-unit, task-unit or a department code)")
        roles.append(role.strip())
        scopes.add(scope.strip() or None)
    if not roles:
        raise Refused("候选组为空 candidateGroups is empty")
    if len(scopes) > 1:
        raise Refused(f"候选组的单位须一致 The groups {text!r} name different units: one task's groups share one")
    return list(dict.fromkeys(roles)), scopes.pop()


def describe(named: dict[str, Any]) -> str:
    """The attributes of a deployed task's model entry (``engine.bpmn.model``), as a designer wrote them."""
    scope = f":{named['unit']}" if named["unit"] else ""
    parts = {
        CANDIDATE_GROUPS: ", ".join(f"{role}{scope}" for role in named["roles"]),
        CANDIDATE_USERS: named[CANDIDATE_USERS],
        ASSIGNEE: named[ASSIGNEE],
    }
    return "; ".join(f"{attribute}={text}" for attribute, text in parts.items() if text)


def name(engine: PythonScriptEngine, task: SpiffTask, attribute: str, text: str) -> list[str]:
    """The usernames an attribute names for ``task``, its expression evaluated in the sandbox over the task's data.

    Raises ``WorkflowTaskException`` (the step fails, as a script does) when it fails or yields no names.
    """
    inner = expression(text)
    if inner is None:
        return names(text)
    value = engine.evaluate(task, inner)
    found = _usernames(value)
    if found is None:
        raise _failure(task, attribute, text, f"yields {type(value).__name__}, not a username or a list of usernames")
    if attribute == ASSIGNEE and len(found) > 1:
        many = f"yields {len(found)} usernames; an assignee is one person (use candidateUsers for several)"
        raise _failure(task, attribute, text, many)
    if len(found) > MAX_USERS:
        raise _failure(task, attribute, text, f"yields {len(found)} usernames; at most {MAX_USERS}")
    return found


def _failure(task: SpiffTask, attribute: str, text: str, problem: str) -> WorkflowTaskException:
    return WorkflowTaskException(f"处理人表达式出错 camunda:{attribute} {text.strip()!r} {problem}", task=task)


def _usernames(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return names(value)  # Camunda takes "a, b" for candidateUsers too
    if isinstance(value, list | tuple | set | frozenset) and all(isinstance(one, str) for one in value):
        return sorted({one.strip() for one in value if one.strip()})
    return None
