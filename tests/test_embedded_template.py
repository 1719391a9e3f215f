"""Embedded clusters are copies of one initdb'd template per process (harness/postgres/embedded.py):
each copy is its own cluster, and a template that went missing is made again."""

from __future__ import annotations

import shutil

from harness.postgres import embedded
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
