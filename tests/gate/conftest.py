"""Gate tests use a private cache directory (never the user's ~/.cache) and a quick hypothesis profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("mutmut", max_examples=60, deadline=None)  # for mutation runs (docs/gate.md)


@pytest.fixture(autouse=True)
def _fresh_pattern_cache() -> None:
    """Compiled wildcard patterns are cached per process; every test compiles its own (a cached result
    from another test must not decide this one: mutation runs fork after a clean run)."""
    from harness.gate import patterns

    patterns._compile.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _gate_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("gate-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("DRILL_GATE_CACHE", str(path))
    yield path
    patch.undo()
