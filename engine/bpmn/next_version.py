"""Storing the next version of a deployed thing (a process, a decision) under concurrent deployments.

Two deployments of one key at once both read the same latest version: the second one's insert then violates
the (key, version) unique constraint, is rolled back to its savepoint, and tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


Row = TypeVar("Row", bound=Versioned)

_ATTEMPTS = 50


def store(
    session: Session,
    latest: Callable[[], Row | None],
    repeats: Callable[[Row], bool],
    new: Callable[[int], Row],
    what: str,
) -> tuple[Row, bool]:
    """The ``latest`` row when it ``repeats`` what is deployed (created=False), else ``new(version)`` added as the
    next version (created=True). ``what`` names the thing in the error raised when it never gets its turn."""
    for _attempt in range(_ATTEMPTS):  # each retry follows another deployment's commit: progress is certain
        current = latest()
        if current is not None and repeats(current):
            return current, False
        row = new((current.version if current is not None else 0) + 1)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return row, True
    raise RuntimeError(f"could not store a new version of {what}: too many concurrent deployments")
