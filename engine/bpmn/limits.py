"""Size and time budgets of diagram code: what keeps one script from eating the server's memory or CPU.

Sizes are checked *before* the operation that would allocate: ``9**9**9``, ``'x' * 10**9``,
``1 << 10**9``, ``range(10**12)``, a string padded to a billion characters, a list doubled in a loop.
Time is a deadline per evaluation, checked on every line, call and builtin call of code that can
loop or call (a plain comparison cannot, and pays nothing).
"""

from __future__ import annotations

import operator
import sys
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
# Bits of one integer (about 30,000 decimal digits).
MAX_INT_BITS = 100_000
# Widths in %-formatting and f-string format specs (``f"{x:999999999}"`` allocates that much).
MAX_WIDTH = 1_000


def _too_big(what: str, size: int, limit: int) -> ScriptLimit:
    return ScriptLimit(f"结果过大 The result would be too large: {what} of {size:,} (at most {limit:,})")


def check_items(size: int) -> None:
    if size > MAX_ITEMS:
        raise _too_big("a sequence or string", size, MAX_ITEMS)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise _too_big("an integer of bits", bits, MAX_INT_BITS)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


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


def _check_modulo(left: Any, right: Any) -> None:
    # ``'%0999999999d' % 1``: %-formatting pads to any width it is given.
    if isinstance(left, str) and left.count("%"):
        check_width(left)


def check_width(spec: str) -> None:
    digits = "".join(ch if ch.isdigit() else " " for ch in spec).split()
    if any(len(number) > 4 or int(number) > MAX_WIDTH for number in digits):
        raise ScriptLimit(f"格式宽度过大 A format width or precision above {MAX_WIDTH} is not allowed: {spec[:50]!r}")


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
    check_items(len(found))
    return found


def _materialized(items: Iterable[Any]) -> Sized:
    return items if isinstance(items, Sized) else list(items)


def _list_append(target: list[Any], value: Any) -> None:
    check_items(len(target) + 1)
    target.append(value)


def _list_insert(target: list[Any], index: int, value: Any) -> None:
    check_items(len(target) + 1)
    target.insert(index, value)


def _list_extend(target: list[Any], items: Iterable[Any]) -> None:
    found = _materialized(items)
    check_items(len(target) + len(found))
    target.extend(found)  # type: ignore[arg-type]


def _str_join(separator: str, items: Iterable[Any]) -> str:
    found = list(items)
    check_items(sum(len(item) if isinstance(item, str) else 0 for item in found) + len(separator) * len(found))
    return separator.join(found)


def _str_replace(text: str, old: str, new: str, count: int = -1) -> str:
    times = text.count(old) if old else len(text) + 1
    if count >= 0:
        times = min(times, count)
    check_items(len(text) + times * max(len(new) - len(old), 0))
    return text.replace(old, new, count)


def _str_pad(name: str, text: str, width: int, *fill: str) -> str:
    check_items(width)
    result: str = getattr(text, name)(width, *fill)
    return result


def _str_expandtabs(text: str, tabsize: int = 8) -> str:
    check_items(len(text) * max(tabsize, 1))
    return text.expandtabs(tabsize)


# Methods that grow a value, replaced by checked versions when diagram code reads them.
BOUNDED_METHODS: dict[tuple[type, str], Callable[..., Any]] = {
    (list, "append"): _list_append,
    (list, "insert"): _list_insert,
    (list, "extend"): _list_extend,
    (str, "join"): _str_join,
    (str, "replace"): _str_replace,
    (str, "expandtabs"): _str_expandtabs,
    **{(str, name): partial(_str_pad, name) for name in ("ljust", "rjust", "center", "zfill")},
}


class _Deadline:
    def __init__(self, seconds: float, filename: str) -> None:
        self.seconds = seconds
        self.filename = filename
        self.at = time.monotonic() + seconds

    def check(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if time.monotonic() > self.at:
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
