"""The project's own checks, run by the README's test command: architecture contracts
(import-linter), lint and format (ruff), strict typing (mypy), and the module size limit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

MAX_MODULE_LINES = 450


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: python -m pip install -e '.[test]'")
    return found


def test_import_contracts_hold() -> None:
    """Layers (commands -> lanes -> framework -> stages -> providers -> ground floor), only the drill
    command imports cli modules, no import cycles (pyproject.toml [tool.importlinter])."""
    out = _run(_tool("lint-imports"), "--no-cache")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_lint_and_format_are_clean() -> None:
    ruff = _tool("ruff")
    lint = _run(ruff, "check", "harness", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _run(ruff, "format", "--check", "harness", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


def test_mypy_strict_is_clean() -> None:
    out = _run(sys.executable, "-m", "mypy")
    assert out.returncode == 0, out.stdout[-4000:]


def test_no_module_is_over_the_size_limit() -> None:
    big = {
        str(p.relative_to(REPO)): n
        for p in sorted((REPO / "harness").rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"
