"""The lane rules a diagram may name (``candidates`` on a lane); what each means is ``engine.items.assignment``."""

from __future__ import annotations

import enum


class LaneRule(enum.StrEnum):
    DEPARTMENT_MANAGERS = "department_managers"
    DEPARTMENT_MEMBERS = "department_members"
    UNIT_MANAGERS = "unit_managers"
    UNIT_MEMBERS = "unit_members"
    OWNER = "owner"
    APPROVERS = "approvers"
    INDEPENDENT_APPROVERS = "independent_approvers"
