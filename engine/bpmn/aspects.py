"""What can change between two versions of a diagram, element by element: the vocabulary of a version diff."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Aspect(enum.StrEnum):
    """What changed on an element: each is said in people's words on the designer's compare page."""

    ID = "id"
    TYPE = "type"
    NAME = "name"
    STATUS = "status"
    STATUS_LABEL = "status_label"
    ESCALATION = "escalation"
    LANE = "lane"
    CANDIDATES = "candidates"
    FORM_KEY = "form_key"
    FORM_TITLE = "form_title"
    FORM_RULES = "form_rules"
    FIELD_ADDED = "field_added"
    FIELD_REMOVED = "field_removed"
    FIELD_TITLE = "field_title"
    FIELD_TYPE = "field_type"
    FIELD_FORMAT = "field_format"
    FIELD_CHOICES = "field_choices"
    FIELD_LABELS = "field_labels"
    FIELD_REQUIRED = "field_required"
    FIELD_LIMITS = "field_limits"
    FIELD_DEFAULT = "field_default"
    FIELD_DESCRIPTION = "field_description"
    MULTI_INSTANCE = "multi_instance"
    TIMER = "timer"
    TIMER_KIND = "timer_kind"
    ATTACHED_TO = "attached_to"
    INTERRUPTING = "interrupting"
    SCRIPT = "script"
    DEFAULT_FLOW = "default_flow"
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    SOURCE = "source"
    TARGET = "target"
    CONDITION = "condition"
    # SpiffWorkflow sees an executable difference none of the aspects above names (loop settings, ...).
    EXECUTION = "execution"


# Aspects whose values are other elements' ids.
REFERENCES = frozenset(
    {Aspect.OUTGOING, Aspect.INCOMING, Aspect.SOURCE, Aspect.TARGET, Aspect.ATTACHED_TO, Aspect.DEFAULT_FLOW}
)


@dataclass(frozen=True)
class Change:
    """One aspect of one element, before and after; ``field`` names the form field it concerns, if any."""

    aspect: Aspect
    before: Any
    after: Any
    field: str | None = None
