"""Diagram code runs in a child process with a hard memory and CPU limit: the next trick fails too.

The sandbox's checks (``engine.bpmn.limits``) refuse every known way to build a huge value before it
is built; this is what holds when one is missed. Each server process keeps a few long-lived
children (``python -m engine.bpmn.jail``), started on first use, one per evaluation at a time.
A child runs under ``RLIMIT_AS`` (``MAX_MEMORY_BYTES`` of address space: a big allocation fails
with MemoryError) and ``RLIMIT_CPU`` (``CPU_SECONDS`` per evaluation: the kernel stops a loop in C
that the time budget cannot see); the parent also gives up after ``WALL_SECONDS`` and kills it.
A child that dies is replaced; the evaluation fails as a ``ScriptLimit``, an incident of its item.
The child gets no environment (no database URL, no secrets) and only the data of the evaluation.
A round trip costs 60-90 µs (bench/jail.py), against about 3 ms per engine step; a child starts in ~0.2 s.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import io
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from engine.bpmn import limits
from engine.bpmn.sandbox import SandboxEnvironment
from engine.store.clock import days_before
from engine.store.errors import ScriptLimit

# Address space of one child: its interpreter and libraries take about 150 MB of it.
MAX_MEMORY_BYTES = 512 * 2**20
# CPU seconds one evaluation may use, counted by the kernel (the time budget stops Python code at 1 s).
CPU_SECONDS = 3
# Seconds the parent waits for one answer before killing the child (a child blocked or swapping).
WALL_SECONDS = 10.0
# The folder that holds the engine package (a checkout or site-packages): the child imports it from there.
_IMPORT_ROOT = str(Path(__file__).resolve().parents[2])
_HEADER = struct.Struct("!I")
_STOPPED = "脚本被强制停止 The script or expression used more memory or CPU than allowed and was stopped"


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError
    return data


# What an answer from a child may contain: data, never a callable (a child is not trusted).
_SAFE = {
    "builtins": {"set", "frozenset", "bytearray", "complex", "range", "slice"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"},
}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _SAFE.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not data")


def _receive(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    return _DataUnpickler(io.BytesIO(_read_exactly(stream, size))).load()


class _Child:
    """One child process and its pipes."""

    def __init__(self) -> None:
        # No environment: the child needs none, and must not see the database URL or any secret.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.bpmn.jail"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_IMPORT_ROOT,
            env={"PYTHONPATH": _IMPORT_ROOT},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout

    def call(self, request: tuple[Any, ...]) -> Any:
        _send(self.stdin, request)
        ready, _, _ = select.select([self.stdout], [], [], WALL_SECONDS)
        if not ready:
            raise TimeoutError
        return _receive(self.stdout)

    def close(self) -> None:
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):  # the child is already gone: its pipe is broken
                stream.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Pool:
    """Idle children, shared by the threads of this process; a child serves one evaluation at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Child] = []
        self.pid = os.getpid()

    def run(self, request: tuple[Any, ...]) -> Any:
        with self.lock:
            if self.pid != os.getpid():  # a forked copy of the pool: those children are the parent's
                self.idle, self.pid = [], os.getpid()
            child = self.idle.pop() if self.idle else _Child()
        try:
            answer = child.call(request)
        except (EOFError, OSError, TimeoutError, pickle.UnpicklingError, struct.error) as exc:
            child.close()  # killed by its limits, stuck, or speaking nonsense: never used again
            raise ScriptLimit(_STOPPED) from exc
        with self.lock:
            self.idle.append(child)
        return answer

    def close(self) -> None:
        with self.lock:
            children, self.idle = self.idle, []
        for child in children:
            child.close()


_pool = _Pool()
atexit.register(_pool.close)


def _raise(kind: str, message: str) -> None:
    """The child's error, as the same kind where it is a builtin exception (NameError...)."""
    if kind == "ScriptLimit":
        raise ScriptLimit(message)
    found = getattr(builtins, kind, None)
    if isinstance(found, type) and issubclass(found, Exception) and found is not KeyError:
        raise found(message)
    raise ValueError(f"{kind}: {message}")


class JailedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's script environment, running every evaluation in a limited child process."""

    def __init__(self, environment_globals: dict[str, Any]) -> None:
        # Kept for SpiffWorkflow's own checks (a script may not overwrite them); the child has its own.
        super().__init__(environment_globals)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        status, value = _pool.run(("evaluate", expression, context, external_context or {}))
        if status != "ok":
            _raise(*value)
        return value

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        status, value = _pool.run(("execute", script, context, external_context or {}))
        if status != "ok":
            _raise(*value)
        context.clear()
        context.update(value)
        return True


# --- the child ----------------------------------------------------------------------------------------------------


def _limit_cpu() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime)
    resource.setrlimit(resource.RLIMIT_CPU, (used + CPU_SECONDS, resource.RLIM_INFINITY))


def _answer(environment: Any, request: tuple[Any, ...]) -> tuple[str, Any]:
    mode, code, context, external = request
    try:
        _limit_cpu()
        if mode == "evaluate":
            return "ok", environment.evaluate(code, context, external)
        environment.execute(code, context, external)
        return "ok", context
    except MemoryError:
        return "error", ("ScriptLimit", _STOPPED)
    except Exception as exc:
        return "error", (type(exc).__name__, str(exc))


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child's loop: one request, one answer, until the parent closes the pipe."""
    resource.setrlimit(resource.RLIMIT_AS, (MAX_MEMORY_BYTES, MAX_MEMORY_BYTES))
    environment = SandboxEnvironment({"days_before": days_before}, seconds=limits.MAX_SECONDS)
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exactly(stdin, _HEADER.size))
            request = pickle.loads(_read_exactly(stdin, size))  # from the parent: trusted
        except EOFError:
            return
        answer = _answer(environment, request)
        try:
            _send(stdout, answer)
        except (MemoryError, pickle.PicklingError, TypeError) as exc:
            _send(stdout, ("error", ("ScriptLimit", f"{_STOPPED} ({type(exc).__name__})")))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
