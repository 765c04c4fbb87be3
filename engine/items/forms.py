"""Task forms: JSON Schema files beside the diagram, validated before the engine sees the data.

Three formats tie a field to the product's people and units, checked against the item at hand:
``username`` (an active user), ``department-member`` (an active user of the item's responsible
department) and ``item-unit`` (the code of a unit taking part in the item).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.models import Department, Item, ItemUnit, User
from engine.store.text import unstorable

# A task without a form accepts no fields at all.
EMPTY_FORM: dict[str, Any] = {"type": "object", "additionalProperties": False}


def form_of(model: dict[str, Any], task_name: str) -> dict[str, Any] | None:
    """The JSON Schema form of a diagram's task (None: the task has no form), from its deployed model."""
    form: dict[str, Any] | None = model["tasks"].get(task_name, {}).get("form")
    return form


def _format_checker(session: Session, item: Item) -> FormatChecker:
    checker = FormatChecker()

    def active_user(value: object) -> User | None:
        if not isinstance(value, str):
            return None
        return session.scalar(select(User).where(User.username == value, User.active.is_(True)))

    @checker.checks("username")
    def _is_user(value: object) -> bool:
        return not isinstance(value, str) or active_user(value) is not None

    @checker.checks("item-unit")
    def _is_unit(value: object) -> bool:
        units = select(Department.code).join(ItemUnit, ItemUnit.department_id == Department.id)
        return not isinstance(value, str) or value in session.scalars(units.where(ItemUnit.item_id == item.id))

    @checker.checks("department-member")
    def _is_member(value: object) -> bool:
        if not isinstance(value, str):
            return True
        user = active_user(value)
        return user is not None and user.department_id == item.department_id

    return checker


def _name(path: Iterable[object]) -> str:
    return ".".join(["data", *(str(part) for part in path)])


def _field(error: ValidationError) -> list[str]:
    prefix = _name(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [f"{prefix}.{name}" for name in error.validator_value if name not in error.instance]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        return [
            f"{prefix}.{name}"
            for name in error.instance
            if name not in allowed and not any(re.search(pattern, name) for pattern in patterns)
        ]
    return [prefix]


def _message(error: ValidationError, item: Item) -> str:
    if error.validator == "required":
        return "必填字段 This field is required"
    if error.validator == "additionalProperties":
        return "未知字段 Unknown field"
    if error.validator == "format" and error.validator_value == "department-member":
        return f"不是责任单位 {item.department.name} 的人员 {error.instance!r} is not a member of the responsible unit"
    if error.validator == "format" and error.validator_value == "item-unit":
        return f"不是本事项的单位 {error.instance!r} is not a unit of this item"
    if error.validator == "format" and error.validator_value == "username":
        return f"用户不存在 Unknown user {error.instance!r}"
    return error.message


def _unstorable_text(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[dict[str, str]]:
    """Strings PostgreSQL text cannot hold (NUL) or UTF-8 cannot encode (lone surrogates): refused as in items."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _unstorable_text(key, (*path, key))
            yield from _unstorable_text(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _unstorable_text(inner, (*path, index))
    elif isinstance(value, str) and (problem := unstorable(value)):
        yield {"field": _name(path), "message": problem}


def validate(session: Session, item: Item, schema: dict[str, Any] | None, data: Any) -> None:
    """Raise InvalidInput listing every field at fault, each once."""
    validator = Draft202012Validator(schema or EMPTY_FORM, format_checker=_format_checker(session, item))
    found = [
        {"field": field, "message": _message(error, item)}
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        for field in _field(error)
    ]
    # jsonschema reports one "required" error per missing property, and ``_field`` names them all from each.
    errors: list[dict[str, str]] = []
    for error in [*found, *_unstorable_text(data)]:
        if error not in errors:
            errors.append(error)
    if errors:
        raise InvalidInput("表单数据无效 The form data is not valid", errors=errors)


def with_defaults(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """The data the engine sees: the form's top-level ``default`` values fill what was not sent.

    Diagram conditions can then name every field of the form, sent or not.
    """
    properties = (schema or {}).get("properties", {})
    defaults = {name: prop["default"] for name, prop in properties.items() if "default" in prop}
    return {**defaults, **data}
