"""A task's JSON Schema form as HTML fields, and the posted fields back as the JSON the schema checks.

Only the shapes our forms use are drawn (strings, enums, numbers, booleans, arrays of choices, and
the people/unit formats); the schema itself stays the one judge of what is valid (``engine.items.forms``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from engine.items import items
from engine.store.models import Department, Item, User

LONG_TEXT = 200  # longer strings get a text area


@dataclass
class Field:
    name: str
    title: str
    kind: str  # text, textarea, choice, multi, number, checkbox, date
    required: bool
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[dict[str, str]] = field(default_factory=list)  # web.pages.base.field_errors's


@dataclass(frozen=True)
class Scope:
    """Whom and which units the people and unit fields offer: an item's (``of_item``), or a preview's."""

    department_id: int | None  # department-member: the active users of this department
    units: list[tuple[str, str]]  # item-unit: (code, name) of each unit taking part


def of_item(session: Session, item: Item) -> Scope:
    units = [(unit.department.code, unit.department.name) for unit in items.units(session, item)]
    return Scope(item.department_id, units)


def of_unit(unit: Department | None) -> Scope:
    """A form seen outside any item (the designer's preview): the people of ``unit``, and it as the item's unit."""
    return Scope(unit.id, [(unit.code, unit.name)]) if unit else Scope(None, [])


def _choices(session: Session, scope: Scope, spec: dict[str, Any]) -> list[tuple[str, str]] | None:
    if "enum" in spec:
        labels = spec.get("x-enum-labels", {})
        return [(str(value), labels.get(value, str(value))) for value in spec["enum"]]
    if spec.get("format") in ("department-member", "username"):
        people = select(User).where(User.active.is_(True)).order_by(User.username)
        if spec.get("format") == "department-member":
            people = people.where(User.department_id == scope.department_id)
        return [(user.username, f"{user.display_name} ({user.username})") for user in session.scalars(people)]
    if spec.get("format") == "item-unit":
        return scope.units
    if spec.get("format") == "department":
        return [(unit.code, unit.name) for unit in session.scalars(select(Department).order_by(Department.code))]
    return None


def _kind(spec: dict[str, Any], options: list[tuple[str, str]] | None) -> str:
    kind = spec.get("type")
    if kind == "array":
        return "multi"
    if options is not None:
        return "choice"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "checkbox"
    if spec.get("format") == "date":
        return "date"
    return "textarea" if spec.get("maxLength", LONG_TEXT + 1) > LONG_TEXT else "text"


def fields(
    session: Session, scope: Scope, schema: dict[str, Any] | None, values: dict[str, Any], errors: list[dict[str, str]]
) -> list[Field]:
    """The form's fields with ``values``, and the ``errors`` (``web.pages.base.field_errors``) beside each."""
    schema = schema or {}
    required = set(schema.get("required", []))
    drawn = []
    for name, spec in schema.get("properties", {}).items():
        inner = spec.get("items", {}) if spec.get("type") == "array" else spec
        options = _choices(session, scope, inner)
        drawn.append(
            Field(
                name=name,
                title=spec.get("title", name),
                kind=_kind(spec, options),
                required=name in required,
                description=spec.get("description", ""),
                options=options or [],
                value=values.get(name, spec.get("default")),
                errors=[e for e in errors if e["field"] == name],
            )
        )
    return drawn


def _number(text: str, spec: dict[str, Any]) -> int | float | str:
    try:
        return int(text) if spec.get("type") == "integer" else float(text)
    except ValueError:
        return text  # the schema refuses it, beside the field: "应为数字"


def parse(schema: dict[str, Any] | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """Posted fields as JSON: empty optional fields are left out, so the schema sees them as unsent."""
    data: dict[str, Any] = {}
    for name, spec in (schema or {}).get("properties", {}).items():
        if spec.get("type") == "array":
            data[name] = [value for value in form.getlist(name) if value]
        elif spec.get("type") == "boolean":
            data[name] = name in form
        elif form.get(name, "").strip():
            text = form[name].strip()
            data[name] = _number(text, spec) if spec.get("type") in ("integer", "number") else text
    return data
