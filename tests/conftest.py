"""Shared fixtures: one real embedded PostgreSQL cluster per test session.

The reference dataset is seeded once into a template database; tests get
cheap private copies with CREATE DATABASE … TEMPLATE.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.dataset.generator import seed_dataset
from harness.portable.contract import Contract, load_contract
from harness.portable.export import ExportResult, SourceInfo, export
from harness.portable.restore import apply_schema
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import EmbeddedCluster, embedded_postgres

REPO = Path(__file__).resolve().parent.parent
REFERENCE_CONTRACT = REPO / "fixtures" / "contracts" / "reference" / "contract.yaml"
TEMPLATE_DB = "tmpl_reference"
TEMPLATE_ROWS = 3000
_names = itertools.count()


@pytest.fixture
def base_dir() -> Iterator[Path]:
    """A directory the server's account can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="drill-test-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[EmbeddedCluster]:
    with embedded_postgres() as running:
        yield running


@pytest.fixture(scope="session")
def admin(cluster: EmbeddedCluster) -> Database:
    return cluster.database()


@pytest.fixture(scope="session")
def template_db(admin: Database) -> Database:
    db = create_database(admin, TEMPLATE_DB)
    seed_dataset(db, TEMPLATE_ROWS, seed=42)
    return db


@pytest.fixture
def source_db(admin: Database, template_db: Database) -> Database:
    """A private copy of the seeded reference database."""
    return create_database(admin, f"src_{next(_names)}", template=TEMPLATE_DB).with_environment("drill")


@pytest.fixture
def scratch_db(admin: Database) -> Database:
    """An empty database with the reference schema, declared scratch."""
    db = create_database(admin, f"scratch_{next(_names)}").with_environment("scratch")
    apply_schema(db, "reference", REPO)
    return db


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(REFERENCE_CONTRACT)


@pytest.fixture(scope="session")
def reference_export(
    template_db: Database, contract: Contract, tmp_path_factory: pytest.TempPathFactory
) -> ExportResult:
    """One export of the template database, shared read-only by tests (copy it before changing it)."""
    out = tmp_path_factory.mktemp("reference") / "export"
    return export(template_db, contract, out, SourceInfo.from_env("drill"))


@pytest.fixture
def export_copy(reference_export: ExportResult, tmp_path: Path) -> Path:
    """A private, writable copy of the reference export."""
    dest = tmp_path / "export"
    shutil.copytree(reference_export.directory, dest)
    return dest
