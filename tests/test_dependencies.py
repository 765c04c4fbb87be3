"""Every third-party module the product imports is a runtime dependency, so that `pip install .` (no extras) works.

`make test` also installs the wheel into a scratch venv and runs `rectiflow init` outside the checkout
(`make plain-install`); this test names the missing distribution within a second.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

from engine.store.config import REPO_ROOT

OWN = {"engine", "web"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _names(specs: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in specs}


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def _runtime_dependencies() -> set[str]:
    return _names(_project()["dependencies"])


def _feature_extras() -> set[str]:
    """Distributions of the extras that add a feature (``s3``), not of the ``test`` extra."""
    extras = _project()["optional-dependencies"]
    return set().union(*(_names(specs) for name, specs in extras.items() if name != "test"))


def _top_level_modules(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported (not inside a function)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    sources = [path for package in OWN for path in (REPO_ROOT / package).rglob("*.py")]
    modules = set().union(*(_imported_modules(path) for path in sources)) - OWN - set(sys.stdlib_module_names)
    distributions = packages_distributions()
    # A feature extra's module may be imported where the feature is used (a function), never on import.
    eager = set().union(*(_top_level_modules(path) for path in sources))
    optional = {
        module
        for module in modules - eager
        if _feature_extras().intersection(_canonical(name) for name in distributions.get(module, []))
    }
    declared = _runtime_dependencies()
    missing = {
        module: sorted(distributions.get(module, ["(not installed)"]))
        for module in sorted(modules - optional)
        if not declared.intersection(_canonical(name) for name in distributions.get(module, []))
    }
    assert missing == {}, f"imported by engine/ or web/ but not in [project] dependencies: {missing}"
