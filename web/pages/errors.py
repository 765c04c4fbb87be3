"""Errors on pages are pages: a refused action shows why, in the person's language, never a JSON body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from engine.store.errors import RectiflowError
from web import trail
from web.problems import RETRY_AFTER, UNAVAILABLE, database_down, status_of


def _listed(error: RectiflowError) -> list[dict[str, Any]]:
    """The error's details worth a line under its message: not one that only repeats it."""
    return [found for found in error.errors if found.get("row") or found.get("message") != error.detail]


def _domain(error: RectiflowError) -> tuple[str, int]:
    status = status_of(error)
    if status == 403:
        trail.denied(error.detail)
    return render_template("error.html", status=status, detail=error.detail, errors=_listed(error)), status


def _http(error: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    if database_down(error) is not None:  # the commit failed: nothing was saved, and trying again may work
        page = render_template("error.html", status=503, detail=UNAVAILABLE, errors=[])
        return page, 503, {"Retry-After": RETRY_AFTER}
    status = error.code or 500
    return render_template("error.html", status=status, detail=error.description, errors=[]), status


def handle_on(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(RectiflowError, _domain)
    blueprint.register_error_handler(HTTPException, _http)
