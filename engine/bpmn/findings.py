"""What the deployment checks find in a diagram: problems, each naming its element, collected rather than raised.

Every check reports to a ``Findings`` and goes on, so a designer sees every problem at once; deploying
refuses when any of them is an error (``refusal``), the lint reports them all, warnings included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from engine.store.errors import InvalidDiagram


class Severity(enum.StrEnum):
    ERROR = "error"  # the diagram cannot be deployed
    WARNING = "warning"  # it deploys, but probably does not do what its designer meant


@dataclass(frozen=True)
class Problem:
    element: str  # a BPMN id, or the process key when no element is at fault
    code: str  # stable, e.g. ``form-missing``: listed in processes/README.md
    message: str  # "中文 English"
    severity: Severity = Severity.ERROR
    line: int | None = None  # in the diagram's file, where known
    form: str | None = None  # the form key, when a form of the bundle is at fault

    def as_error(self) -> dict[str, Any]:
        error = {
            "element": self.element,
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "line": self.line,
        }
        return error if self.form is None else {**error, "form": self.form}


@dataclass
class Findings:
    problems: list[Problem] = field(default_factory=list)

    def error(self, code: str, element: str, message: str, line: int | None = None, form: str | None = None) -> None:
        self.problems.append(Problem(element, code, message, Severity.ERROR, line, form))

    def warning(self, code: str, element: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(element, code, message, Severity.WARNING, line))

    @property
    def has_errors(self) -> bool:
        return any(problem.severity is Severity.ERROR for problem in self.problems)


def refusal(problems: list[Problem]) -> InvalidDiagram:
    """The deployment's refusal: every error, each naming its element; the detail lists them too."""
    errors = [problem for problem in problems if problem.severity is Severity.ERROR]
    if len(errors) == 1:
        detail = errors[0].message
    else:
        listed = "\n".join(f"- {problem.element}: {problem.message}" for problem in errors)
        detail = f"流程图有 {len(errors)} 个问题 The diagram has {len(errors)} problems:\n{listed}"
    return InvalidDiagram(detail, errors=[problem.as_error() for problem in errors])
