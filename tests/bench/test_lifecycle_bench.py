"""The lifecycle benchmark still runs: its floor follows the bundled diagram as the diagram grows."""

from __future__ import annotations

import re
import subprocess
import sys

from engine.store.config import REPO_ROOT


def test_the_benchmark_prints_the_completion_against_its_floor() -> None:
    command = [sys.executable, "bench/lifecycle.py", "--lifecycles", "2", "--rounds", "2"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"complete median / floor step = \d+\.\d+x", done.stdout), done.stdout
    assert re.search(r"floor step\s+\d+\.\d+", done.stdout), done.stdout
