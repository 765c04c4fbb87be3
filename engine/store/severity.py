"""严重程度: how serious an item's problem is. The values are stored and read by diagrams in Chinese (the default
lifecycle's deadline rule reads the workflow variable ``severity``); the English words are for the pages."""

from __future__ import annotations

from engine.store.errors import InvalidInput

ENGLISH = {"一般": "Normal", "较重": "Serious", "严重": "Severe"}
SEVERITIES = tuple(ENGLISH)
DEFAULT = SEVERITIES[0]
# marshmallow's OneOf fills in {input} and {choices}; the engine says the same.
UNKNOWN = "未知严重程度 Unknown severity {input}: one of {choices}"


def label(value: str) -> str:
    """ "一般 Normal": a page shows the part for its language."""
    return f"{value} {ENGLISH[value]}" if value in ENGLISH else value


def require_known(value: str, field: str = "severity") -> None:
    if value not in ENGLISH:
        message = UNKNOWN.format(input=repr(value), choices="、".join(SEVERITIES))
        raise InvalidInput(message, errors=[{"field": field, "message": message}])
