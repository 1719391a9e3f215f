"""Embedded clusters are copies of one initdb'd template per process (harness/postgres/embedded.py):
each copy is its own cluster, and a template that went missing is made again."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from harness.errors import ProviderError
from harness.postgres import embedded
from harness.postgres.binaries import find_bindir
from harness.postgres.embedded import embedded_postgres


def _marker(cluster: embedded.EmbeddedCluster) -> list[str]:
    with cluster.database().connect(autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database ORDER BY 1").fetchall()]


def test_clusters_are_independent_copies_of_one_template() -> None:
    with embedded_postgres() as first, embedded_postgres() as second:
        assert first.data != second.data and first.port != second.port
        with first.database().connect(autocommit=True) as conn:
            conn.execute("CREATE DATABASE only_in_first")
        assert "only_in_first" in _marker(first)
        assert "only_in_first" not in _marker(second)
        templates = {t.data for t in embedded._TEMPLATES.values()}
        assert templates and not (templates & {first.data, second.data})
        assert all(not (t / "postmaster.pid").exists() for t in templates)  # never started


def test_a_missing_template_is_made_again() -> None:
    with embedded_postgres():
        pass
    for template in list(embedded._TEMPLATES.values()):
        shutil.rmtree(template.data.parent)
    with embedded_postgres() as cluster:
        assert "postgres" in _marker(cluster)
    assert all((t.data / "PG_VERSION").is_file() for t in embedded._TEMPLATES.values())


def test_a_prewarmed_template_serves_the_first_cluster_and_its_failure_surfaces_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """drill run starts initdb in the background; the first cluster waits for it instead of
    running initdb again, and an initdb that failed in the background fails that cluster."""
    monkeypatch.setattr(embedded, "_TEMPLATES", {})
    embedded.prewarm_template()
    embedded.prewarm_template()  # once per process
    assert len(embedded._MAKING) == 1
    runs: list[int] = []
    real = embedded.EmbeddedCluster.run_initdb
    monkeypatch.setattr(embedded.EmbeddedCluster, "run_initdb", lambda self: runs.append(1) or real(self))
    with embedded_postgres() as cluster:
        assert "postgres" in _marker(cluster)
    assert runs == [] and not embedded._MAKING and len(embedded._TEMPLATES) == 1
    made = next(iter(embedded._TEMPLATES.values()))
    monkeypatch.undo()
    shutil.rmtree(made.data.parent)

    # A real fault: binaries whose initdb fails (where the server account can run them).
    broken = Path(tempfile.mkdtemp(prefix="drill-test-bin-"))
    broken.chmod(0o755)
    monkeypatch.setattr(embedded, "_TEMPLATES", {})
    for name in ("pg_ctl", "postgres"):
        (broken / name).symlink_to(find_bindir() / name)
    (broken / "initdb").write_text("#!/bin/sh\necho 'initdb: disk on fire' >&2\nexit 1\n")
    (broken / "initdb").chmod(0o755)
    monkeypatch.setenv("DRILL_PG_BINDIR", str(broken))
    try:
        embedded.prewarm_template()
        with pytest.raises(ProviderError, match=r"initdb failed.*disk on fire"), embedded_postgres():
            pass
        assert not embedded._TEMPLATES and not embedded._MAKING
    finally:
        shutil.rmtree(broken)
