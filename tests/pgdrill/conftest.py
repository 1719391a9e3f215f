"""Real dumps for the pg-restore-check tests: good ones (with a canary), a tampered one, broken files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.pgdrill import canary
from harness.pgdrill.dump import dump
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import EmbeddedCluster
from tests.pgdrill.helpers import TOKEN

#: The audit_events row whose payload the "tampered" dump changed.
TAMPERED_ID = 300


@pytest.fixture(scope="session")
def dumps(
    cluster: EmbeddedCluster, template_db: Database, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A whole-database dump of the reference data (with a canary), a `-n public` dump, a dump whose
    audit chain was tampered with before dumping, and broken files."""
    out = tmp_path_factory.mktemp("dumps")
    db = create_database(cluster.database(), "dump_source", template=template_db.dbname)
    canary.plant(db, "public", TOKEN)
    full = dump(db, cluster.bindir, out / "app.dump").path
    schema_only = dump(db, cluster.bindir, out / "public.dump", schemas=["public"]).path
    tampered_db = create_database(cluster.database(), "dump_tampered", template=db.dbname)
    with tampered_db.connect() as conn:
        conn.execute("UPDATE audit_events SET detail = detail || '!' WHERE id = %s", (TAMPERED_ID,))
        conn.commit()
    tampered = dump(tampered_db, cluster.bindir, out / "tampered.dump").path
    data = full.read_bytes()
    (out / "truncated.dump").write_bytes(data[: len(data) * 2 // 3])
    (out / "random.bin").write_bytes(os.urandom(4096))
    (out / "plain.sql").write_text("--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n")
    return {
        "full": full,
        "public": schema_only,
        "tampered": tampered,
        "truncated": out / "truncated.dump",
        "random": out / "random.bin",
        "plain": out / "plain.sql",
    }
