"""The restricted environment every condition, script and timer expression of a diagram runs in.

Diagrams are uploaded by designers, not written by developers: their Python is compiled with
RestrictedPython under a stricter policy (no imports, no ``try``, no classes, no ``open``/``eval``/
``getattr``..., no ``_`` names or attributes, no ``str.format``), sees a short list of builtins,
and runs within the size and time budgets of ``engine.bpmn.limits``; what a script leaves in the
item's data is at most ``MAX_DATA_BYTES`` of JSON. Deployment compiles with the
same function (``compile_code``), so what can be refused by reading the code is refused there,
naming the element; what only shows when it runs fails that one item as an incident.
"""

from __future__ import annotations

import ast
import builtins
import json
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from engine.bpmn import limits
from engine.store.errors import ScriptLimit

Mode = Literal["eval", "exec"]
# The file name diagram code is compiled as: SpiffWorkflow looks for it to report the failing line.
FILENAME = "<string>"

# Names diagram code may not even mention: each reaches outside the data it is given.
FORBIDDEN_NAMES = frozenset(
    {
        "open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "hasattr", "globals", "locals",
        "vars", "dir", "type", "object", "super", "input", "breakpoint", "help", "memoryview", "classmethod",
        "staticmethod", "property", "exit", "quit", "print", "id", "hash",
    }
)  # fmt: skip
_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
    "isinstance", "len", "list", "map", "max", "min", "ord", "reversed", "round", "set", "sorted", "str", "sum",
    "tuple", "zip",
)  # fmt: skip
# JSON bytes of a task's data after a script: "a few hundred KB" of form answers and lists of units is plenty,
# and every later task of the item holds a copy (the whole state is capped by engine.bpmn.instance).
MAX_DATA_BYTES = 256 * 1024
# Builtin types that copy what they are given: counted against the evaluation's budget.
_COPYING_TYPES = ("dict", "frozenset", "list", "set", "str", "tuple")
# Loops, comprehensions, functions and calls are what can take time; code without them runs untimed.
_TIMED_NODES = (ast.For, ast.While, ast.comprehension, ast.Lambda, ast.FunctionDef, ast.Call)


class Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, and with the operators that allocate turned into checked calls."""

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "导入模块是不允许的 Imports are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "导入模块是不允许的 Imports are not allowed")
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST:
        # An ``except`` could catch the budget's own error and run on without one.
        self.error(node, "不允许 try 语句 try/except is not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "不允许定义类 Class definitions are not allowed")
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        self.error(node, "不允许 global 语句 global is not allowed")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f"不允许使用 {node.id} The name {node.id!r} is not allowed")
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        # str.format walks attributes from inside the string ('{0.__class__}'); f-strings do the same job.
        if node.attr in ("format", "format_map"):
            self.error(node, f"不允许使用 .{node.attr}() .{node.attr}() is not allowed: use an f-string")
            return node
        return super().visit_Attribute(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(part, ast.Constant) and isinstance(part.value, str) for part in parts):
                self.error(node, "格式说明必须是常量 A format spec in an f-string must be a constant")
                return node
            try:
                limits.check_width("".join(part.value for part in parts))  # type: ignore[attr-defined]
            except ScriptLimit as exc:
                self.error(node, exc.detail)
                return node
        visited = super().visit_FormattedValue(node)
        # f'{x}{x}...' joins in the interpreter, past every check: each value's text is counted first.
        call = ast.Call(func=ast.Name("_formatted_", ast.Load()), args=[node.value], keywords=[])
        node.value = ast.fix_missing_locations(ast.copy_location(call, node.value))
        return visited

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        symbol = _SYMBOLS.get(type(node.op))
        if symbol is None:
            return super().visit_BinOp(node)
        try:
            _constant(node)  # 9**9**9 and 'x' * 10**9 are refused before anything runs
        except ScriptLimit as exc:
            self.error(node, exc.detail)
            return node
        self.node_contents_visit(node)  # the operands, restricted in place
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right], keywords=[]
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))


_SYMBOLS: dict[type[ast.operator], str] = {ast.Pow: "**", ast.Mult: "*", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}
_UNARY = {ast.USub: lambda value: -value, ast.UAdd: lambda value: +value}


def _constant(node: ast.AST) -> Any:
    """The value of an arithmetic expression of literals (computed under the size checks); None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _constant(node.operand)
        return None if value is None else _UNARY[type(node.op)](value)
    if isinstance(node, ast.BinOp) and type(node.op) in _SYMBOLS:
        left, right = _constant(node.left), _constant(node.right)
        if left is not None and right is not None:
            try:
                return limits.binop(_SYMBOLS[type(node.op)], left, right)
            except (ArithmeticError, TypeError, ValueError):  # 1/0 and friends fail when run, as in Python
                return None
    return None


@dataclass(frozen=True)
class Compiled:
    code: Any
    timed: bool


class CodeRefused(ValueError):
    """Diagram code that the sandbox will not run; the message says why."""


@lru_cache(maxsize=4096)
def compile_code(source: str, mode: Mode) -> Compiled:
    """Compile diagram code under the policy, cached by its text (conditions run on every engine step).

    Raises ``CodeRefused`` naming every refused construct with its line.
    """
    text = source.lstrip(" \t") if mode == "eval" else source  # eval() skips leading blanks too
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(text, filename=FILENAME, policy=Policy)
    if result.errors or result.code is None:
        raise CodeRefused("; ".join(result.errors))
    tree = ast.parse(text, mode=mode)
    return Compiled(result.code, any(isinstance(node, _TIMED_NODES) for node in ast.walk(tree)))


def _getattr(obj: Any, name: str) -> Any:
    """Attributes of data only: none of a class (``str.format``...), no ``_`` names, growing methods checked."""
    if isinstance(obj, type):
        raise AttributeError(f"不允许访问类型的属性 Attributes of types are not allowed ({obj.__name__}.{name})")
    value = safer_getattr_raise(obj, name)
    bounded = limits.BOUNDED_METHODS.get((type(obj), name))
    return value if bounded is None else partial(bounded, obj)


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(function: Any, *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _builtins() -> dict[str, Any]:
    found: dict[str, Any] = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
    found.update({name: limits.counted(getattr(builtins, name)) for name in _COPYING_TYPES})
    found.update(
        {
            "None": None,
            "True": True,
            "False": False,
            "range": limits.bounded_range,
            "sorted": limits.counted_sorted,
            "sum": limits.checked_sum,
            # The guards RestrictedPython's compiled code calls.
            "_getattr_": _getattr,
            "_getitem_": _getitem,
            "_getiter_": limits.counted_iter,
            "_formatted_": limits.formatted,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": full_write_guard,
            "_inplacevar_": limits.inplacevar,
            "_binop_": limits.binop,
            "_apply_": _apply,
        }
    )
    return found


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, running restricted code within a time budget.

    Scripts see the task's data as variables and leave their assignments in it, as the library's
    environment does; functions a script defines are not kept.
    """

    def __init__(self, environment_globals: dict[str, Any], seconds: float = limits.MAX_SECONDS) -> None:
        super().__init__({**environment_globals, "__builtins__": _builtins()})
        self.seconds = seconds

    def _run(self, compiled: Compiled, scope: dict[str, Any]) -> Any:
        with limits.budget():
            if not compiled.timed:
                return eval(compiled.code, scope)  # restricted code, compiled by compile_code
            with limits.deadline(self.seconds, FILENAME):
                return eval(compiled.code, scope)

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        scope = {**self.globals, **(external_context or {}), **context}
        return self._run(_compiled(expression, "eval"), scope)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        kept = {**self.globals, **(external_context or {})}
        scope = {**kept, **context}
        try:
            self._run(_compiled(script, "exec"), scope)
        except Exception as exc:
            if exc.args and not isinstance(exc.args[0], str):
                # SpiffWorkflow joins the first argument into its message: it must be text (KeyError(1) is not).
                raise ValueError(f"{type(exc).__name__}: {exc}") from exc
            raise
        results = {name: value for name, value in scope.items() if name not in kept and not callable(value)}
        for name, value in results.items():
            _check_storable(name, value)
        left = {name: value for name, value in context.items() if name in scope}  # ``del x`` in the script
        left.update(results)
        _check_size(left)
        context.clear()
        context.update(left)
        return True


_SCALARS = (type(None), bool, int, float, str)


def _check_storable(name: str, value: Any) -> None:
    """Refuse what the item's state cannot hold (``map(...)``, a generator): an error now, not when it is stored."""
    pending = [value]
    while pending:
        found = pending.pop()
        if isinstance(found, dict):
            pending.extend(found.keys())
            pending.extend(found.values())
        elif isinstance(found, list | tuple | set | frozenset):
            pending.extend(found)
        elif not isinstance(found, _SCALARS):
            raise ValueError(
                f"变量无法保存 The value of {name!r} cannot be stored: {type(found).__name__} (make it a list)"
            )


def _as_json(found: Any) -> Any:
    # Sets are stored as lists; other values that are not JSON came from the engine (dates) and are short.
    return list(found) if isinstance(found, set | frozenset) else str(found)


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=_as_json))


def _check_size(data: dict[str, Any]) -> None:
    """Refuse data the item's state should not hold: over ``MAX_DATA_BYTES``, or an integer too long to write."""
    try:
        size = _json_size(data)
    except ValueError as exc:  # Python's int->str limit: the value could never be stored or shown
        raise ScriptLimit(f"结果无法保存 A value the script left cannot be stored: {exc}") from exc
    if size > MAX_DATA_BYTES:
        sizes = {name: _json_size(value) for name, value in data.items()}
        biggest = max(sizes, key=sizes.__getitem__)
        raise ScriptLimit(
            f"数据过大 The data after this script would be {size:,} bytes (at most {MAX_DATA_BYTES:,}); "
            f"the largest variable is {biggest!r} ({sizes[biggest]:,} bytes)"
        )


def _compiled(source: str, mode: Mode) -> Compiled:
    try:
        return compile_code(source, mode)
    except CodeRefused as exc:
        # Deployment refuses these; a diagram deployed before the sandbox existed meets it here.
        raise ScriptLimit(f"代码不被允许 The code is not allowed: {exc}") from exc
