"""Task forms: JSON Schema files beside the diagram, validated before the engine sees the data.

Five formats tie a field to the product's people, units and files, checked against the item at hand:
``username`` (an active user), ``department-member`` (an active user of the item's responsible
department), ``item-unit`` (the code of a unit taking part in the item), ``department`` (the code
of any unit, e.g. a co-unit a manager asks to join) and ``attachment`` (the id of an evidence file
of the item, not removed). A form asks for files with
``{"type": "array", "items": {"type": "integer", "format": "attachment"}, "minItems": 1}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.errors import InvalidInput
from engine.store.models import Attachment, Department, Item, ItemUnit, User
from engine.store.text import bilingual, unstorable

# The formats whose values are unit codes (shown by the unit's name).
UNIT_FORMATS = frozenset({"item-unit", "department"})
# A task without a form accepts no fields at all.
EMPTY_FORM: dict[str, Any] = {"type": "object", "additionalProperties": False}


def form_of(model: dict[str, Any], task_name: str) -> dict[str, Any] | None:
    """The JSON Schema form of a diagram's task (None: the task has no form), from its deployed model."""
    form: dict[str, Any] | None = model["tasks"].get(task_name, {}).get("form")
    return form


@dataclass(frozen=True)
class Answer:
    """One field a person submitted, with the title its form gives it."""

    key: str
    title: str | None  # "中文 English" as the form writes it; None: the form does not name this field
    value: Any
    spec: dict[str, Any]


def answers(schema: dict[str, Any] | None, data: dict[str, Any]) -> list[Answer]:
    """The fields of ``data`` that say something, in the order sent, each labelled by ``schema``'s title.

    The one place that turns a field's key into its form title (the timeline and the review panel read it).
    """
    properties = (schema or {}).get("properties", {})
    found = []
    for key, value in data.items():
        if value is None or value in ("", [], {}):
            continue
        spec = properties.get(key)
        spec = spec if isinstance(spec, dict) else {}
        found.append(Answer(key, str(spec["title"]) if "title" in spec else None, value, spec))
    return found


def is_files(spec: dict[str, Any]) -> bool:
    """Whether a form field holds evidence files (an ``attachment`` id, or an array of them)."""
    inner = spec.get("items") if spec.get("type") == "array" else spec
    return isinstance(inner, dict) and inner.get("format") == "attachment"


def file_ids(answers: Iterable[Answer]) -> list[int]:
    """The evidence files' ids the answers name, in order, each once."""
    found: list[int] = []
    for answer in answers:
        if is_files(answer.spec):
            values = answer.value if isinstance(answer.value, list) else [answer.value]
            found += [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v not in found]
    return found


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

    @checker.checks("department")
    def _is_department(value: object) -> bool:
        known = select(Department.id).where(Department.code == value)
        return not isinstance(value, str) or session.scalar(known) is not None

    @checker.checks("department-member")
    def _is_member(value: object) -> bool:
        if not isinstance(value, str):
            return True
        user = active_user(value)
        return user is not None and user.department_id == item.department_id

    @checker.checks("attachment")
    def _is_attachment(value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return True
        live = select(Attachment.id).where(
            Attachment.id == value, Attachment.item_id == item.id, Attachment.removed_at.is_(None)
        )
        return session.scalar(live) is not None

    return checker


def _name(path: Iterable[object]) -> str:
    return ".".join(["data", *(str(part) for part in path)])


def _field(error: ValidationError) -> list[str]:
    prefix = _name(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [f"{prefix}.{name}" for name in error.validator_value if name not in error.instance]
    if error.validator == "dependentRequired" and isinstance(error.instance, dict):
        needed = [name for key, names in error.validator_value.items() if key in error.instance for name in names]
        return [f"{prefix}.{name}" for name in needed if name not in error.instance]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        return [
            f"{prefix}.{name}"
            for name in error.instance
            if name not in allowed and not any(re.search(pattern, name) for pattern in patterns)
        ]
    return [prefix]


def _title(schema: dict[str, Any], path: Iterable[object]) -> tuple[str, str]:
    """The form's title of the (top-level) field a path names, in Chinese and in English."""
    name = next((str(part) for part in path), "")
    spec = schema.get("properties", {}).get(name)
    title = spec.get("title") if isinstance(spec, dict) else None
    return bilingual(str(title or name))


def choice_label(spec: dict[str, Any], value: Any) -> str | None:
    """An enum value by its title: ``x-enum-labels``, ``oneOf`` with ``const``/``title``, or ``enumNames``."""
    labels = spec.get("x-enum-labels") or {}
    if isinstance(labels, dict) and str(value) in labels:
        return str(labels[str(value)])
    for option in spec.get("oneOf") or []:
        if isinstance(option, dict) and option.get("const") == value and "title" in option:
            return str(option["title"])
    names, enum = spec.get("enumNames"), spec.get("enum")
    if isinstance(names, list) and isinstance(enum, list) and value in enum and enum.index(value) < len(names):
        return str(names[enum.index(value)])
    return None


def _condition(error: ValidationError, schema: dict[str, Any]) -> tuple[str, str]:
    """For a rule of an ``if``/``then``: the condition, said as people chose it ("审核结论为“退回”时")."""
    path = list(error.schema_path)
    if "then" not in path:
        return "", ""
    parent: Any = schema
    for part in path[: len(path) - 1 - path[::-1].index("then")]:
        parent = parent[part]
    tested = [
        (name, spec["const"]) for name, spec in parent.get("if", {}).get("properties", {}).items() if "const" in spec
    ]
    if len(tested) != 1:
        return "", ""
    name, value = tested[0]
    zh_value, en_value = bilingual(choice_label(schema.get("properties", {}).get(name, {}), value) or str(value))
    zh_title, en_title = _title(schema, [name])
    return f"{zh_title}为“{zh_value}”时，", f" when {en_title} is {en_value}"


def _required(zh: str, en: str) -> tuple[str, str]:
    return f"“{zh}”为必填项", f"{en} is required"


def _wording(error: ValidationError, zh: str, en: str) -> tuple[str, str]:
    """What is wrong with the field titled ``zh``/``en``, by the kind of rule it broke."""
    value = error.validator_value
    wordings: dict[str, tuple[str, str]] = {
        "minLength": _required(zh, en)
        if value == 1
        else (f"“{zh}”至少 {value} 个字", f"{en}: at least {value} characters"),
        "maxLength": (f"“{zh}”不能超过 {value} 个字", f"{en}: at most {value} characters"),
        "enum": (f"请从“{zh}”的选项中选择", f"Please choose one of the options of {en}"),
        "const": (f"“{zh}”的取值不对", f"{en} has the wrong value"),
        "type": (f"“{zh}”应为数字", f"{en} must be a number")
        if value in ("integer", "number")
        else (f"“{zh}”的内容类型不对", f"{en} has the wrong kind of value"),
        "minimum": (f"“{zh}”不能小于 {value}", f"{en} must be at least {value}"),
        "maximum": (f"“{zh}”不能大于 {value}", f"{en} must be at most {value}"),
        "exclusiveMinimum": (f"“{zh}”应大于 {value}", f"{en} must be more than {value}"),
        "exclusiveMaximum": (f"“{zh}”应小于 {value}", f"{en} must be less than {value}"),
        "minItems": (f"“{zh}”至少选择 {value} 项", f"{en}: choose at least {value}"),
        "maxItems": (f"“{zh}”应为空", f"{en} must be empty")
        if value == 0
        else (f"“{zh}”最多选择 {value} 项", f"{en}: choose at most {value}"),
        "uniqueItems": (f"“{zh}”有重复的选项", f"{en} has duplicate choices"),
        "pattern": (f"“{zh}”的格式不对", f"{en} is not in the expected form"),
        "format": (f"“{zh}”应为日期，如 2026-12-31", f"{en} must be a date such as 2026-12-31")
        if value == "date"
        else (f"“{zh}”的格式不对", f"{en} is not in the expected form"),
    }
    return wordings.get(str(error.validator), (f"“{zh}”的内容不被接受", f"{en}: this value is not accepted"))


def _message(error: ValidationError, item: Item, schema: dict[str, Any], field: str) -> str:
    """A message for one field at fault, "中文 English" as every engine message (a page shows one half)."""
    if error.validator == "additionalProperties":
        return "未知字段 Unknown field"
    if error.validator == "format" and error.validator_value == "department-member":
        return f"不是责任单位 {item.department.name} 的人员 {error.instance!r} is not a member of the responsible unit"
    if error.validator == "format" and error.validator_value == "item-unit":
        return f"不是本事项的单位 {error.instance!r} is not a unit of this item"
    if error.validator == "format" and error.validator_value == "attachment":
        return f"不是本事项的有效附件 {error.instance!r} is not a file of this item (or it was removed)"
    if error.validator == "format" and error.validator_value == "username":
        return f"用户不存在 Unknown user {error.instance!r}"
    zh_title, en_title = _title(schema, field.split(".")[1:])
    if error.validator in ("required", "dependentRequired"):
        zh, en = _required(zh_title, en_title)
    else:
        zh, en = _wording(error, zh_title, en_title)
    zh_when, en_when = _condition(error, schema)
    return f"{zh_when}{zh} {en}{en_when}"


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
    schema = schema or EMPTY_FORM
    validator = Draft202012Validator(schema, format_checker=_format_checker(session, item))
    found = [
        {"field": field, "message": _message(error, item, schema, field)}
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
