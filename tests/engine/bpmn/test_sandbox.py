"""The script sandbox: escape payloads are refused at deploy naming the element, or stopped when they run."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from typing import Any
from xml.sax.saxutils import escape

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.builder import script_engine
from engine.bpmn.bundle import Bundle, from_folder
from engine.bpmn.sandbox import SandboxEnvironment
from engine.deadlines.worker import Worker
from engine.identity import identity
from engine.items import workflow
from engine.store.clock import days_before
from engine.store.config import REPO_ROOT
from engine.store.db import transaction
from engine.store.errors import InvalidDiagram, ScriptLimit
from engine.store.models import HistoryEvent, Incident, Item, Job
from tests.conftest import People

FORMS = REPO_ROOT / "processes" / "forms"


def process(body: str, key: str = "scripted", last: str = "y") -> bytes:
    """A diagram of ``start`` → ``body`` (whose first element is ``x`` and last ``last``) → ``end``.

    No lanes, no user tasks, no extension properties: nothing the product needs beyond the flow.
    """
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="in" sourceRef="start" targetRef="x"/>
    {body}
    <bpmn:sequenceFlow id="out" sourceRef="{last}" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def script(code: str, key: str = "scripted") -> bytes:
    return process(f'<bpmn:scriptTask id="x"><bpmn:script>{escape(code)}</bpmn:script></bpmn:scriptTask>', key, "x")


def condition(expression: str, key: str = "conditioned") -> bytes:
    """A gateway ``x`` whose flow ``yes`` carries ``expression``; the default flow ``no`` goes on too."""
    return process(
        '<bpmn:exclusiveGateway id="x" default="no"/>'
        '<bpmn:sequenceFlow id="yes" sourceRef="x" targetRef="y">'
        f"<bpmn:conditionExpression>{escape(expression)}</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="no" sourceRef="x" targetRef="y"/><bpmn:exclusiveGateway id="y"/>',
        key,
    )


def timer(expression: str, then: str = "", key: str = "timed") -> bytes:
    """An intermediate timer ``x`` at ``expression`` (a timeDate), then optionally a script task ``y``."""
    event = (
        f'<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition><bpmn:timeDate>{escape(expression)}'
        "</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    if not then:
        return process(event, key, "x")
    after = (
        '<bpmn:sequenceFlow id="xy" sourceRef="x" targetRef="y"/>'
        f'<bpmn:scriptTask id="y"><bpmn:script>{escape(then)}</bpmn:script></bpmn:scriptTask>'
    )
    return process(event + after, key)


# The payloads that reading the code is enough to refuse.
REFUSED = {
    "import": "__import__('os').system('id')",
    "import statement": "import os",
    "subclasses walk": "().__class__.__mro__[1].__subclasses__()",
    "open": "open('/etc/passwd').read()",
    "format walk": "'{0.__class__.__mro__}'.format(1)",
    "f-string walk": "f'{x.__class__}'",
    "power tower": "9**9**9",
    "giant string": "'x' * 10**10",
    "eval": "eval('1')",
    "getattr": "getattr(1, 'real')",
}
STATEMENTS = {"import statement"}


def refused(content: bytes) -> InvalidDiagram:
    with pytest.raises(InvalidDiagram) as caught:
        deploy.build(Bundle(content))
    return caught.value


@pytest.mark.parametrize("payload", [REFUSED[name] for name in REFUSED], ids=list(REFUSED))
def test_escape_payloads_are_refused_at_deploy_naming_the_element(payload: str) -> None:
    diagrams = {"script": script(f"answer = 1\n{payload}")}
    if payload.split()[0] not in ("import",):
        diagrams["condition"] = condition(payload)
        diagrams["timer"] = timer(payload)
    for where, content in diagrams.items():
        error = refused(content)
        element = "yes" if where == "condition" else "x"
        assert error.errors[0]["element"] == element, where
        assert "not allowed in a diagram" in error.detail, (where, error.detail)


def test_the_refusal_says_what_was_refused() -> None:
    assert "'open' is not allowed" in refused(script("open('/etc/passwd')")).detail
    assert "Imports are not allowed" in refused(script("import os")).detail
    assert 'starts with "_"' in refused(condition("().__class__")).detail
    assert "too large" in refused(condition("9**9**9 > 1")).detail


def test_legitimate_code_and_the_bundled_diagrams_deploy() -> None:
    code = (
        "units = ['a', 'b']\nlines = []\nfor n, unit in enumerate(sorted(units)):\n    lines.append(f'{n}:{unit}')\n"
        "summary = ', '.join(lines)\nbig = 2 ** 64\ntotal = sum(x * x for x in range(10))"
    )
    assert deploy.build(Bundle(script(code))).key == "scripted"
    assert deploy.build(Bundle(condition("decision == 'approve' and len(units) > 1"))).key == "conditioned"
    for path in (REPO_ROOT / "processes").glob("*.bpmn"):
        assert deploy.build(from_folder(path, FORMS)).key == path.stem


def run(code: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    context = dict(data or {})
    script_engine().environment.execute(code, context)
    return context


def test_scripts_see_the_data_and_leave_their_variables_in_it() -> None:
    data = run(
        "total = amount * 2\nnames = [u.upper() for u in units]\ndel scratch",
        {"amount": 21, "units": ["a"], "scratch": 1},
    )
    assert data == {"amount": 21, "units": ["a"], "total": 42, "names": ["A"]}
    engine = script_engine().environment
    assert engine.evaluate("days_before('2026-12-31T23:59:59+08:00', 3)", {}) == "2026-12-28T23:59:59+08:00"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("while True: pass", "ran longer than 1 s"),
        ("n = 0\nwhile True:\n    n += 1", "ran longer than 1 s"),
        ("x = []\nwhile True: x.extend([0] * 1000)", "too large"),
        ("x = [1]\nwhile True: x = x + x", "too large"),
        ("n = 9\nx = n ** n ** n", "too large"),
        ("x = 'ab'.ljust(width)", "too large"),
        ("x = list(range(n))", "too large"),
        ("x = template.format(1)", "format"),
        ("x = str.join('', [])", "Attributes of types"),
        ("x = [0 for a in range(10**6) for b in range(10**6)]", "ran longer than 1 s"),
    ],
)
def test_what_only_shows_when_it_runs_is_stopped_and_changes_no_data(code: str, words: str) -> None:
    # How soon is the budget's business (1 s of CPU time, engine.bpmn.limits), not a wall clock's here.
    data = {"width": 10**9, "n": 10**9, "template": "{0.__class__}"}
    with pytest.raises((ScriptLimit, AttributeError), match=words):
        run(code, data)
    assert run("x = 1", data)["x"] == 1  # nothing of the failed script stayed


@pytest.mark.parametrize(
    ("code", "words"), [("x = map(abs, [1])", "cannot be stored: map"), ("x = {}[1]", "KeyError: 1")]
)
def test_a_script_error_the_library_or_the_state_could_not_handle_is_plain_text(code: str, words: str) -> None:
    """Both reach the incident as a message: not a 500 when the item's state is stored or the error reported."""
    with pytest.raises(ValueError, match=words):
        run(code)


def test_the_budget_error_cannot_be_caught_by_the_script() -> None:
    assert "try/except is not allowed" in refused(script("try:\n    pass\nexcept Exception:\n    pass")).detail
    with pytest.raises(ScriptLimit):
        script_engine().environment.evaluate("[0 for a in range(10**6) for b in range(10**6)]", {})


# --- on an item: incidents -------------------------------------------------------------------------------------------


def start_item(sessions: sessionmaker[Session], content: bytes, **fields: Any) -> int:
    with transaction(sessions) as session:
        definition, _created = deploy.deploy(session, Bundle(content), actor="designer")
        reporter = identity.user_by_username(session, "reporter")
        new = workflow.NewItem(title="脚本", department="office", process=definition.key, **fields)
        return workflow.create_item(session, reporter, new, "Asia/Shanghai").id


def open_incidents(sessions: sessionmaker[Session], item_id: int) -> list[tuple[str, str]]:
    with sessions() as session:
        query = select(Incident).where(Incident.item_id == item_id, Incident.resolved_at.is_(None))
        return [(incident.element, incident.message) for incident in session.scalars(query)]


def test_a_failing_timer_expression_is_an_incident_of_that_item_only(
    sessions: sessionmaker[Session], people: People
) -> None:
    item_id = start_item(sessions, timer("days_before(missing, 3)"))
    ((element, message),) = open_incidents(sessions, item_id)
    assert element == "x"
    assert "NameError" in message and "missing" in message
    with sessions() as session:
        item = session.get_one(Item, item_id)
        actions = session.scalars(select(HistoryEvent.action).where(HistoryEvent.item_id == item_id)).all()
        assert (item.closed_at, actions) == (None, ["created", "incident"])
        assert session.scalar(select(Job.due_at).where(Job.item_id == item_id)) is None  # nothing left to fire


def test_a_script_failing_after_a_timer_fired_by_the_worker_is_an_incident_and_the_worker_moves_on(
    sessions: sessionmaker[Session], people: People
) -> None:
    due = "days_before(deadline_end, 0)"
    with time_machine.travel(dt.datetime(2026, 11, 2, tzinfo=dt.UTC), tick=False):
        stuck = start_item(sessions, timer(due, then="while True: pass"), deadline=dt.date(2026, 11, 10))
        fine = start_item(sessions, timer(due, then="answer = 6 * 7", key="timed_ok"), deadline=dt.date(2026, 11, 10))
    worker = Worker(sessions, "w1")
    with time_machine.travel(dt.datetime(2026, 11, 11, tzinfo=dt.UTC), tick=True):
        assert worker.run_pending() == 3  # both timers, and the job comparing the new items (曾整改过)
        assert worker.run_pending() == 0  # the failed item's job is not due again: no spinning
        assert worker.due_count() == 0
    ((element, message),) = open_incidents(sessions, stuck)
    assert element == "y"
    assert "ran longer than 1 s" in message
    with sessions() as session:
        assert session.get_one(Item, stuck).closed_at is None
        assert session.get_one(Item, fine).closed_at is not None
        job = session.scalar(select(Job).where(Job.item_id == stuck))
        assert job is not None and job.last_error is None  # handled as an incident, not as a crashed job


def test_a_retried_timer_expression_arms_again_with_the_data_it_lacked(
    sessions: sessionmaker[Session], people: People
) -> None:
    item_id = start_item(sessions, timer("days_before(missing, 3)"))
    with transaction(sessions) as session:
        (incident,) = session.scalars(select(Incident).where(Incident.item_id == item_id)).all()
        admin = identity.user_by_username(session, "admin")
        past = {"missing": "2026-01-10T00:00:00+08:00"}
        assert workflow.retry_incident(session, admin, item_id, incident.id, past).resolved_by == "admin"
    assert open_incidents(sessions, item_id) == []
    with sessions() as session:
        assert session.get_one(Item, item_id).closed_at is not None  # the timer was due: it fired, the item ended


# --- the payloads that build a huge value from small code ----------------------------------------------------

# Each would build hundreds of MB; the data gives the sizes, so reading the code cannot refuse them.
BIG = {
    "star width": ("y = '%*s' % (n, 'a')", "format width"),
    "star precision": ("y = '%.*f' % (n, 1.0)", "format width"),
    "bytes ljust": ("y = b'a'.ljust(n)", "too large"),
    "bytes replace": ("y = (b'a' * 1000).replace(b'a', b'b' * 1000000)", "too large"),
    "translate": ("y = ('a' * 1000).translate({97: 'x' * 1000000})", "too large"),
    "encode": ("y = ('a' * 1000000).encode('utf-32')", "too large"),
    "300 strings of 1 MB": ("y = [c * 1000000 for c in 'abcdefghij' * 30]", "more than 4,000,000"),
    "copies in a loop": ("s = 'a' * 1000000\ny = [list(s) for c in range(300)]", "more than 4,000,000"),
    "f-string": ("s = 'a' * 1000000\ny = f'{s}{s}{s}{s}{s}{s}'", "more than 4,000,000"),
    "str of a list": ("s = 'a' * 1000000\ny = str([s] * 300)", "too large"),
    "sum of lists": ("y = sum([[0] * 1000000] * 300, [])", "too large"),
    "big integer": ("y = 10 ** digits", "too large"),
    "doubled integer": ("y = 2 ** 13990\nfor c in range(100):\n    y += y", "too large"),
}
SIZES = {"n": 200_000_000, "digits": 15_000}


def built_in_process(code: str, data: dict[str, Any]) -> int:
    """Run ``code`` under the sandbox here, not in a child process, and return the peak bytes it allocated."""
    environment = SandboxEnvironment({"days_before": days_before})
    tracemalloc.start()
    try:
        environment.execute(code, dict(data))
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MB built"
    return peak


@pytest.mark.parametrize("case", list(BIG))
def test_a_huge_value_is_refused_before_it_is_built(case: str) -> None:
    """The sandbox's own checks, where the code runs (the child process of engine.bpmn.jail runs them too)."""
    code, words = BIG[case]
    with pytest.raises(ScriptLimit, match=words):
        built_in_process(code, SIZES)
    with pytest.raises(ScriptLimit, match=words):
        run(code, SIZES)  # and as the engine runs it


# ``int.to_bytes`` is not counted by the sandbox: one allocation of 1 GB, past the child's address space at once
# (slices, also uncounted, fill it in small steps and could meet the 1 s budget first on a slow machine).
UNCOUNTED = "y = len((0).to_bytes(10 ** 9, 'big'))"


def test_what_the_checks_miss_is_stopped_by_the_child_process_memory_limit() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ScriptLimit, match="more memory or CPU than allowed"):
            run(UNCOUNTED)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # nothing of it in the server's process
    assert run("y = len('a' * 10)") == {"y": 10}  # a new child took over


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("y = 'a' * 300000", "'y'"),  # one variable over the cap
        ("a = 'a' * 200000\nb = 'b' * 200000", "at most 262,144"),  # together over it
        ("y = int('9' * 4300) - -int('9' * 4300)", "cannot be stored"),  # more digits than Python writes
    ],
)
def test_what_a_script_leaves_is_capped(code: str, words: str) -> None:
    with pytest.raises(ScriptLimit, match=words):
        run(code, {"kept": "earlier data"})
    assert run("y = 'a' * 200000", {"kept": 1})["kept"] == 1  # under the cap, as before
