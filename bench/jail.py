"""What running diagram code in the jail's child process costs, per evaluation, against running it in-process.

    python bench/jail.py

A gateway's condition is evaluated on every pass; a script runs once per pass.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bpmn.jail import JailedEnvironment
from engine.bpmn.sandbox import SandboxEnvironment
from engine.store.clock import days_before

DATA = {"decision": "approve", "units": ["office", "works"], "deadline_end": "2026-12-31T23:59:59+08:00"}
CODE = {
    "condition": ("evaluate", "decision == 'approve' and len(units) > 1"),
    "script": ("execute", "summary = ', '.join(sorted(units))"),
}


def per_call_us(environment: object, mode: str, code: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        getattr(environment, mode)(code, dict(DATA))
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    local = SandboxEnvironment({"days_before": days_before})
    jailed = JailedEnvironment({"days_before": days_before})
    started = time.perf_counter()
    jailed.evaluate("1", {})
    print(f"first evaluation (starts a child): {(time.perf_counter() - started) * 1e3:.0f} ms")
    for name, (mode, code) in CODE.items():
        here, there = per_call_us(local, mode, code, 2000), per_call_us(jailed, mode, code, 2000)
        print(f"{name:10} in-process {here:7.1f} µs   in the child {there:7.1f} µs   (+{there - here:.1f} µs)")


if __name__ == "__main__":
    main()
