"""Two versions of a user task's form (JSON Schema), compared field by field as a person fills it in."""

from __future__ import annotations

from typing import Any

from engine.bpmn.aspects import Aspect, Change

# What a field keeps a person from sending: shown together, as "limits".
_LIMITS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
)
_FIELD_ASPECTS = {
    "title": Aspect.FIELD_TITLE,
    "type": Aspect.FIELD_TYPE,
    "format": Aspect.FIELD_FORMAT,
    "enum": Aspect.FIELD_CHOICES,
    "x-enum-labels": Aspect.FIELD_LABELS,
    "default": Aspect.FIELD_DEFAULT,
    "description": Aspect.FIELD_DESCRIPTION,
}
# Rules across fields (e.g. a comment required when the decision is reject).
_RULES = ("if", "then", "else", "allOf", "anyOf", "oneOf", "not", "dependentRequired", "dependentSchemas")


def _fields(form: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    properties = (form or {}).get("properties")
    return {name: spec for name, spec in properties.items() if isinstance(spec, dict)} if properties else {}


def _required(form: dict[str, Any] | None) -> set[str]:
    return set((form or {}).get("required") or ())


def _limits(spec: dict[str, Any]) -> dict[str, Any]:
    return {name: spec[name] for name in _LIMITS if name in spec}


def _field_changes(name: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = [
        Change(aspect, before.get(key), after.get(key), name)
        for key, aspect in _FIELD_ASPECTS.items()
        if before.get(key) != after.get(key)
    ]
    if _limits(before) != _limits(after):
        changes.append(Change(Aspect.FIELD_LIMITS, _limits(before), _limits(after), name))
    return changes


def form_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """Fields added and removed, then each kept field's changes, in the order the new form lists them."""
    old, new = _fields(before), _fields(after)
    changes = [
        Change(Aspect.FIELD_REMOVED, spec.get("title", name), None, name)
        for name, spec in old.items()
        if name not in new
    ]
    for name, spec in new.items():
        if name not in old:
            changes.append(Change(Aspect.FIELD_ADDED, None, spec.get("title", name), name))
            continue
        changes.extend(_field_changes(name, old[name], spec))
        was, now = name in _required(before), name in _required(after)
        if was != now:
            changes.append(Change(Aspect.FIELD_REQUIRED, was, now, name))
    old_title, new_title = (before or {}).get("title"), (after or {}).get("title")
    if before and after and old_title != new_title:
        changes.append(Change(Aspect.FORM_TITLE, old_title, new_title))
    old_rules = {key: (before or {})[key] for key in _RULES if key in (before or {})}
    new_rules = {key: (after or {})[key] for key in _RULES if key in (after or {})}
    if old_rules != new_rules:
        changes.append(Change(Aspect.FORM_RULES, old_rules or None, new_rules or None))
    return changes
