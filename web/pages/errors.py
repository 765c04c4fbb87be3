"""Errors on pages are pages: a refused action shows why, in the person's language, never a JSON body."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from engine.store.errors import RectiflowError
from web import trail
from web.problems import status_of


def _domain(error: RectiflowError) -> tuple[str, int]:
    status = status_of(error)
    if status == 403:
        trail.denied(error.detail)
    return render_template("error.html", status=status, detail=error.detail, errors=error.errors), status


def _http(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return render_template("error.html", status=status, detail=error.description, errors=[]), status


def handle_on(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(RectiflowError, _domain)
    blueprint.register_error_handler(HTTPException, _http)
