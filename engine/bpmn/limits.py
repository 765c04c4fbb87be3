"""Size and time budgets of diagram code: what keeps one script from eating the server's memory or CPU.

Sizes are checked *before* the operation that would allocate: ``9**9**9``, ``'x' * 10**9``,
``1 << 10**9``, ``range(10**12)``, a string or bytes padded to a billion characters (``%*s``,
``ljust``, ``translate``...), a list doubled in a loop. What one evaluation builds or walks in total
is counted too (``budget``): 300 strings of 1 MB are refused though each alone is allowed.
Time is a deadline per evaluation, checked on every line, call and builtin call of code that can
loop or call (a plain comparison cannot, and pays nothing).
"""

from __future__ import annotations

import operator
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Any

from engine.store.errors import ScriptLimit

# Defaults sized for what a diagram's data holds (form answers, a few lists of units).
MAX_SECONDS = 1.0
# Elements of one list/tuple/range, or characters of one string (a list this long is ~8 MB).
MAX_ITEMS = 1_000_000
# Items or characters one evaluation may build or walk in total (what ``MAX_ITEMS`` is for one value).
MAX_TOTAL_ITEMS = 4_000_000
# Bits of one integer: about 4,200 decimal digits, under Python's int<->str limit (4,300 digits), so
# every integer a script makes can be shown and stored (10**15000 could not, and failed storage).
MAX_INT_BITS = 14_000
# Widths in %-formatting and f-string format specs (``f"{x:999999999}"`` allocates that much).
MAX_WIDTH = 1_000


def _too_big(what: str, size: int, limit: int) -> ScriptLimit:
    return ScriptLimit(f"结果过大 The result would be too large: {what} of {size:,} (at most {limit:,})")


class _Budget(threading.local):
    """What the evaluation running on this thread has built or walked so far (None: no evaluation)."""

    spent: int | None = None


_budget = _Budget()


@contextmanager
def budget() -> Iterator[None]:
    """Count what the diagram code run inside builds or walks, against ``MAX_TOTAL_ITEMS``."""
    outer, _budget.spent = _budget.spent, 0
    try:
        yield
    finally:
        _budget.spent = outer


def spend(size: int) -> None:
    if _budget.spent is None:
        return  # constant folding at deployment: one value, checked by check_items
    _budget.spent += size
    if _budget.spent > MAX_TOTAL_ITEMS:
        raise ScriptLimit(
            f"结果过大 The script or expression built or walked more than {MAX_TOTAL_ITEMS:,} items or characters"
        )


def check_items(size: int) -> None:
    """One value of ``size`` items or characters is about to be built: within ``MAX_ITEMS``, and counted."""
    if size > MAX_ITEMS:
        raise _too_big("a sequence or string", size, MAX_ITEMS)
    spend(size)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise _too_big("an integer of bits", bits, MAX_INT_BITS)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | bytearray | list | tuple)


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        # Checked on the exponent first: ``exponent * bit_length`` itself would be a huge number.
        _check_bits(min(exponent, MAX_INT_BITS + 1) * (abs(base).bit_length() - 1))


def _check_multiply(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _check_bits(left.bit_length() + right.bit_length())
    elif _is_sequence(left) and isinstance(right, int):
        check_items(len(left) * max(right, 0))
    elif _is_sequence(right) and isinstance(left, int):
        check_items(len(right) * max(left, 0))


def _check_shift(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and left:
        _check_bits(left.bit_length() + min(right, MAX_INT_BITS + 1))


def _check_add(left: Any, right: Any) -> None:
    if _is_sequence(left) and _is_sequence(right):
        check_items(len(left) + len(right))
    elif isinstance(left, int) and isinstance(right, int):
        _check_bits(max(left.bit_length(), right.bit_length()) + 1)  # x += x in a loop doubles x


# One %-conversion: ``%(name)-*.*f``; the width and precision are digits or ``*`` (taken from the arguments).
_CONVERSION = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.DOTALL)


def _check_modulo(left: Any, right: Any) -> None:
    """``'%*s' % (10**9, 'a')`` and ``'%0999999999d' % 1``: %-formatting pads to any width it is given."""
    if not isinstance(left, str | bytes | bytearray):
        return
    template = left.encode("utf-8", "replace") if isinstance(left, str) else bytes(left)
    if b"%" not in template:
        return
    arguments = iter(right if isinstance(right, tuple) else (right,))
    padding = 0
    for match in _CONVERSION.finditer(template):
        for found in match.group(1, 2):
            if found is None:
                continue
            width = next(arguments, 0) if found == b"*" else int(found) if len(found) <= 6 else MAX_WIDTH + 1
            if not isinstance(width, int) or width > MAX_WIDTH:
                raise ScriptLimit(
                    f"格式宽度过大 A format width or precision above {MAX_WIDTH} is not allowed: {left[:50]!r}"
                )
            padding += width
        if match.group(3) != b"%" and not match.group(0).startswith(b"%("):
            next(arguments, None)
    # The result is the template, the padding and the arguments as text: '%s%s' % (x, x) is twice x.
    check_items(len(left) + padding + text_size(right))


def check_width(spec: str) -> None:
    digits = "".join(ch if ch.isdigit() else " " for ch in spec).split()
    if any(len(number) > 4 or int(number) > MAX_WIDTH for number in digits):
        raise ScriptLimit(f"格式宽度过大 A format width or precision above {MAX_WIDTH} is not allowed: {spec[:50]!r}")


def text_size(value: Any) -> int:
    """About how many characters ``str(value)`` has, without building it; stops counting past ``MAX_ITEMS``."""
    total, pending = 0, [value]
    while pending and total <= MAX_ITEMS:
        found = pending.pop()
        if isinstance(found, str | bytes | bytearray):
            total += len(found) + 3
        elif isinstance(found, dict):
            total += 2 * len(found) + 2
            pending.extend(found.keys())
            pending.extend(found.values())
        elif isinstance(found, list | tuple | set | frozenset):
            total += 2 * len(found) + 2
            pending.extend(found)
        elif isinstance(found, int):
            total += found.bit_length() // 3 + 2
        else:
            total += 24  # floats, None, booleans
    return total


# Operator symbol -> (the operation, its in-place form, the size check run before either).
OPERATORS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any], Callable[[Any, Any], None]]] = {
    "**": (operator.pow, operator.ipow, _check_power),
    "*": (operator.mul, operator.imul, _check_multiply),
    "<<": (operator.lshift, operator.ilshift, _check_shift),
    "+": (operator.add, operator.iadd, _check_add),
    "%": (operator.mod, operator.imod, _check_modulo),
}


def binop(symbol: str, left: Any, right: Any) -> Any:
    """``left <symbol> right`` for the operators that can allocate without bound, after the size check."""
    operation, _inplace, check = OPERATORS[symbol]
    check(left, right)
    return operation(left, right)


def inplacevar(symbol: str, left: Any, right: Any) -> Any:
    """RestrictedPython's ``_inplacevar_``: ``x += y`` and friends, with the same checks as ``x + y``."""
    found = OPERATORS.get(symbol.rstrip("="))
    if found is not None:
        found[2](left, right)
        return found[1](left, right)
    return _INPLACE[symbol](left, right)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "-=": operator.isub,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def bounded_range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_ITEMS:
        raise _too_big("a sequence or string", len(found), MAX_ITEMS)
    return found  # walking it is counted by ``counted_iter``, not building it (it holds three numbers)


def counted_iter(items: Any) -> Iterator[Any]:
    """RestrictedPython's ``_getiter_`` (every ``for`` and comprehension): what is walked is counted.

    A comprehension builds at most what it walks: ``[list(range(10**6)) for n in range(300)]`` walks 300 MB.
    """
    sized = isinstance(items, Sized)  # not narrowed: ``items`` stays Any for iter()
    if sized:
        spend(len(items))
        return iter(items)
    return _counting(iter(items))


def _counting(items: Iterator[Any]) -> Iterator[Any]:
    for n, item in enumerate(items):
        if not n % 1024:
            spend(1024)
        yield item


def _materialized(items: Iterable[Any]) -> Sized:
    return items if isinstance(items, Sized) else list(items)


def _grow(target: Sized, added: int) -> None:
    """``target`` grows in place by ``added`` items: its new length is checked, only the growth counted."""
    if len(target) + added > MAX_ITEMS:
        raise _too_big("a sequence or string", len(target) + added, MAX_ITEMS)
    spend(added)


def _list_append(target: list[Any], value: Any) -> None:
    _grow(target, 1)
    target.append(value)


def _list_insert(target: list[Any], index: int, value: Any) -> None:
    _grow(target, 1)
    target.insert(index, value)


def _list_extend(target: list[Any], items: Iterable[Any]) -> None:
    found = _materialized(items)
    _grow(target, len(found))
    target.extend(found)  # type: ignore[arg-type]


def _bytearray_extend(target: bytearray, items: Iterable[Any]) -> None:
    found = _materialized(items)
    _grow(target, len(found))
    target.extend(found)  # type: ignore[arg-type]


Text = str | bytes | bytearray


def _join(separator: Text, items: Iterable[Any]) -> Text:
    found = list(items)
    check_items(sum(len(item) if _is_sequence(item) else 0 for item in found) + len(separator) * len(found))
    return separator.join(found)


def _replace(text: Any, old: Any, new: Any, count: int = -1) -> Text:
    times = text.count(old) if old else len(text) + 1
    if count >= 0:
        times = min(times, count)
    check_items(len(text) + times * max(len(new) - len(old), 0))
    result: Text = text.replace(old, new, count)
    return result


def _pad(name: str, text: Text, width: int, *fill: Any) -> Text:
    check_items(max(width, len(text)))
    result: Text = getattr(text, name)(width, *fill)
    return result


def _expandtabs(text: Text, tabsize: int = 8) -> Text:
    check_items(len(text) * max(tabsize, 1))
    return text.expandtabs(tabsize)


def _str_translate(text: str, table: Any) -> str:
    """Each character may become a whole string: ``'a'*1000`` with ``{97: 'x'*10**6}`` is a billion."""
    longest = 1
    if isinstance(table, dict):
        longest = max((len(value) for value in table.values() if isinstance(value, str)), default=1)
    check_items(len(text) * max(longest, 1))
    return text.translate(table)


def _str_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    check_items(len(text) * 4 + 4)  # no codec a script can name takes more than 4 bytes a character (utf-32)
    return text.encode(encoding, errors)


_PADS = ("ljust", "rjust", "center", "zfill")
# Methods that grow a value, replaced by checked versions when diagram code reads them.
BOUNDED_METHODS: dict[tuple[type, str], Callable[..., Any]] = {
    (list, "append"): _list_append,
    (list, "insert"): _list_insert,
    (list, "extend"): _list_extend,
    (bytearray, "append"): _list_append,
    (bytearray, "insert"): _list_insert,
    (bytearray, "extend"): _bytearray_extend,
    (str, "translate"): _str_translate,
    (str, "encode"): _str_encode,
    **{(kind, "join"): _join for kind in (str, bytes, bytearray)},
    **{(kind, "replace"): _replace for kind in (str, bytes, bytearray)},
    **{(kind, "expandtabs"): _expandtabs for kind in (str, bytes, bytearray)},
    **{(kind, name): partial(_pad, name) for kind in (str, bytes, bytearray) for name in _PADS},
}


class _Deadline:
    def __init__(self, seconds: float, filename: str) -> None:
        self.seconds = seconds
        self.filename = filename
        # The thread's CPU time, not the wall clock: a busy server must not turn a healthy script into an
        # incident. Wall-clock time is bounded by the jail's parent (``engine.bpmn.jail.WALL_SECONDS``).
        self.at = time.thread_time() + seconds

    def check(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if time.thread_time() > self.at:
            raise ScriptLimit(f"运行超时 The script or expression ran longer than {self.seconds:g} s and was stopped")
        if event == "call":
            if frame.f_code.co_filename != self.filename:
                return None  # a library function (days_before): its calls are still seen by the profiler
            # Every instruction, not every line: ``while True: pass`` is one line that never emits another.
            frame.f_trace_opcodes = True
        return self.check


@contextmanager
def deadline(seconds: float, filename: str) -> Iterator[None]:
    """Stop the diagram code (compiled as ``filename``) run inside after ``seconds``.

    Checked on every instruction of the diagram's own code and on every call it makes (a profile
    function sees builtins too: ``sorted`` of a long list has no instruction of ours until it returns);
    whatever tracer ran before (a debugger, coverage) is put back.
    """
    budget = _Deadline(seconds, filename)
    previous_trace, previous_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(budget.check)
    sys.setprofile(budget.check)
    try:
        yield
    finally:
        sys.settrace(previous_trace)
        sys.setprofile(previous_profile)


class _Counted(type):
    """The type of a builtin stand-in: ``isinstance(x, str)`` still works, ``str(x)`` is checked and counted."""

    wrapped: type

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.wrapped)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls.wrapped)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.wrapped is str and args:
            check_items(text_size(args[0]))  # str() of a list of long strings is all of them, joined
        result = cls.wrapped(*args, **kwargs)
        spend(len(result))  # list(x) and friends copy: counted, so a loop of copies runs out
        return result


def counted(kind: type) -> type:
    """A stand-in for the builtin type ``kind`` (str, list, dict...) for diagram code."""
    return _Counted(kind.__name__, (), {"wrapped": kind})


def counted_sorted(items: Iterable[Any], **kwargs: Any) -> list[Any]:
    result = sorted(items, **kwargs)
    spend(len(result))
    return result


def checked_sum(items: Iterable[Any], start: Any = 0) -> Any:
    """``sum(lists, [])`` concatenates in C, past the ``+`` check: the total length is checked first."""
    if isinstance(start, int | float):
        return sum(items, start)
    found = list(items)
    check_items(len(start) + sum(len(item) if _is_sequence(item) else 0 for item in found))
    return sum(found, start)


def formatted(value: Any) -> Any:
    """An f-string's ``{value}``: the text it becomes is counted (f'{x}{x}{x}' is three times x)."""
    check_items(len(value) if isinstance(value, str) else text_size(value))
    return value
