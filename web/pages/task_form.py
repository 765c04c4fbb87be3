"""A task's JSON Schema form as HTML fields, and the posted fields back as the JSON the schema checks.

Only the shapes our forms use are drawn (strings, enums, numbers, booleans, arrays of choices, the
people/unit formats, and evidence files: the item's files to tick, with an upload control); the schema
itself stays the one judge of what is valid (``engine.items.forms``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from engine.items import forms, items
from engine.store.models import Department, Item, Task, User
from web.pages import evidence

LONG_TEXT = 200  # longer strings get a text area


@dataclass
class Field:
    name: str
    title: str
    kind: str  # text, textarea, choice, multi, number, checkbox, date, files
    required: bool
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[dict[str, str]] = field(default_factory=list)  # web.pages.base.field_errors's
    files: list[evidence.Shown] = field(default_factory=list)  # files: the item's, to tick
    upload: tuple[int, int] | None = None  # files: (item id, task id) a new file goes to; None: no upload


@dataclass(frozen=True)
class Scope:
    """Whom and which units the people and unit fields offer: an item's (``of_item``), or a preview's."""

    department_id: int | None  # department-member: the active users of this department
    units: list[tuple[str, str]]  # item-unit: (code, name) of each unit taking part
    files: list[evidence.Shown] = field(default_factory=list)  # attachment: the item's live files
    upload: tuple[int, int] | None = None  # attachment: (item id, task id) when the person may add files


def of_item(session: Session, item: Item, user: User, task: Task) -> Scope:
    units = [(unit.department.code, unit.department.name) for unit in items.units(session, item)]
    upload = (item.id, task.id) if evidence.may_add(user, item) else None
    return Scope(item.department_id, units, evidence.listed(session, user, item), upload)


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
    if forms.is_files(spec):
        return "files"
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
        kind = _kind(spec, options)
        value = values.get(name, spec.get("default"))
        drawn.append(
            Field(
                name=name,
                title=spec.get("title", name),
                kind=kind,
                required=name in required,
                description=spec.get("description", ""),
                options=options or [],
                # The boxes' values are text: ids as the answer holds them are ticked by their text too.
                value=[str(v) for v in value or []] if kind == "files" else value,
                errors=[e for e in errors if e["field"] == name],
                files=scope.files if kind == "files" else [],
                upload=scope.upload if kind == "files" else None,
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
            inner = spec.get("items") if isinstance(spec.get("items"), dict) else {}
            chosen = [value for value in form.getlist(name) if value]
            # Files are ticked by id: numbers for the schema (a box's value is text).
            numeric = inner.get("type") in ("integer", "number")
            data[name] = [_number(value, inner) for value in chosen] if numeric else chosen
        elif spec.get("type") == "boolean":
            data[name] = name in form
        elif form.get(name, "").strip():
            text = form[name].strip()
            data[name] = _number(text, spec) if spec.get("type") in ("integer", "number") else text
    return data
