"""The restore's and the dry run's fast paths with version-2 contracts (exports the harness did not
write: tests/foreign), on real PostgreSQL.

The empty-target bulk load (harness/portable/restore_empty.py) applies to v2 contracts: it loads
through the contract's column mapping, keeps composite keys and reference cycles, refuses a field
without a column, and leaves tables identical to the upsert's. The dry run's server-side compare
(byte digests) steps aside for v2: a foreign export is compared in canonical form in the client.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from types import ModuleType

import pytest

from harness.errors import VerificationFailed
from harness.portable import restore_empty
from harness.portable.contract import Contract, load_contract
from harness.portable.dryrun import compares_in_server, dry_run
from harness.portable.restore import _unmapped_fields, apply_schema, restore
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database, create_database
from tests.conftest import REPO
from tests.foreign import docstore, kvstore

KINDS = {"docstore": docstore, "kvstore": kvstore}
_made = iter(range(10_000))
CHANGE_ONE = {  # one record's value changed in the target, by kind
    "docstore": "UPDATE comments SET body = body || ' ' WHERE \"commentId\" = 'c-1'",
    "kvstore": "UPDATE kv_products SET name = name || '!' WHERE sku = 'SKU-000'",
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = KINDS[request.param]
    return module


def _target(admin: Database, contract: Contract) -> Database:
    db = create_database(admin, f"fast_{contract.name}_{next(_made)}").with_environment("scratch")
    apply_schema(db, "contract", REPO, contract)
    return db


def _kvstore_target(
    admin: Database, tmp_path: Path, ddl: str
) -> tuple[Contract, Path, ValidationReport, Database]:
    """The kvstore export validated, and an empty target from its contract changed by ``ddl``."""
    contract = load_contract(kvstore.CONTRACT)
    export_dir = kvstore.write(tmp_path / "export")
    report = validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")
    db = _target(admin, contract)
    with db.connect() as conn:
        conn.execute(ddl)
        conn.commit()
    return contract, export_dir, report, db


def _not_owner(db: Database) -> Database:
    """The same database through a role that may write rows but does not own the tables: the bulk
    load steps aside for real (it may not change the schema)."""
    role, password = f"restorer_{secrets.token_hex(3)}", secrets.token_hex(12)
    with db.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.commit()
    return Database(db.host, db.port, db.dbname, role, password, "embedded", "scratch")


def _tables(contract: Contract) -> list[str]:
    return [str(ent.table) for ent in contract.entities]


def _contents(db: Database, contract: Contract) -> dict[str, tuple[int, str]]:
    with db.connect() as conn:
        out: dict[str, tuple[int, str]] = {}
        for table in _tables(contract):
            row = conn.execute(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f" FROM {table} t"
            ).fetchone()
            assert row is not None
            out[table] = (int(row[0]), str(row[1]))
    return out


def _catalog(db: Database) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE connamespace = 'public'::regnamespace UNION ALL"
                " SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " ORDER BY 1, 2, 3"
            ).fetchall()
        ]


def test_bulk_load_and_upsert_give_the_same_tables(kind: ModuleType, admin: Database, tmp_path: Path) -> None:
    """Column mapping, composite keys and the reference cycle through both paths: same rows, and the
    bulk load puts every constraint and index back."""
    contract = load_contract(kind.CONTRACT)
    export_dir = kind.write(tmp_path / "export")
    report = validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")
    total = sum(len(v) for v in kind.records().values())
    bulk_db, upsert_db = _target(admin, contract), _target(admin, contract)
    before = _catalog(bulk_db)

    bulk = restore(bulk_db, contract, export_dir, report)
    assert bulk.method == restore_empty.METHOD and bulk.bulk_load_skipped is None
    upserted = restore(_not_owner(upsert_db), contract, export_dir, report)
    assert upserted.method == "upsert" and "does not own" in (upserted.bulk_load_skipped or "")

    assert sum(bulk.inserted.values()) == total and bulk.inserted == upserted.inserted
    assert _contents(bulk_db, contract) == _contents(upsert_db, contract)
    assert all(rows > 0 for rows, _ in _contents(bulk_db, contract).values())
    assert _catalog(bulk_db) == before
    assert any("FOREIGN KEY" in str(r[2]) and "DEFERRABLE" in str(r[2]) for r in before)


def test_a_second_restore_upserts_every_record(kind: ModuleType, admin: Database, tmp_path: Path) -> None:
    contract = load_contract(kind.CONTRACT)
    export_dir = kind.write(tmp_path / "export")
    report = validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")
    db = _target(admin, contract)
    first = restore(db, contract, export_dir, report)
    contents = _contents(db, contract)
    again = restore(db, contract, export_dir, report)
    assert again.method == "upsert" and again.bulk_load_skipped == "the target already holds rows"
    assert sum(again.inserted.values()) == 0
    assert again.updated == first.inserted
    assert _contents(db, contract) == contents


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-load", "upsert"])
def test_a_field_without_a_column_stops_either_path(bulk: bool, admin: Database, tmp_path: Path) -> None:
    contract, export_dir, report, db = _kvstore_target(
        admin, tmp_path, "ALTER TABLE kv_orders DROP COLUMN note"
    )
    before = _catalog(db)
    writer = db if bulk else _not_owner(db)
    with pytest.raises(VerificationFailed, match=r"entity 'orders': field\(s\) note have no column"):
        restore(writer, contract, export_dir, report)
    assert all(rows == 0 for rows, _ in _contents(db, contract).values())
    assert _catalog(db) == before  # the bulk load's dropped keys and indexes are back (rolled back)


def test_deferrable_constraints_besides_foreign_keys_make_the_bulk_load_step_aside(
    admin: Database, tmp_path: Path
) -> None:
    """A deferred unique key or constraint trigger would block re-adding the foreign keys; the
    upsert defers it to the commit instead."""
    ddl = "ALTER TABLE kv_products ADD CONSTRAINT kv_products_name_key UNIQUE (name) DEFERRABLE"
    contract, export_dir, report, db = _kvstore_target(admin, tmp_path, ddl)
    result = restore(db, contract, export_dir, report)
    assert result.method == "upsert"
    assert "kv_products" in (result.bulk_load_skipped or "") and "deferrable" in (
        result.bulk_load_skipped or ""
    )
    assert sum(result.inserted.values()) == sum(len(v) for v in kvstore.records().values())


def test_the_dry_run_compares_v2_exports_in_canonical_form(
    kind: ModuleType, admin: Database, tmp_path: Path
) -> None:
    """No v2 entity takes the server-side byte compare (a foreign export's bytes differ from the
    target's rendering); the canonical compare still finds identical records and a changed one."""
    contract = load_contract(kind.CONTRACT)
    assert not any(compares_in_server(contract, ent) for ent in contract.entities)
    reference = load_contract(REPO / "fixtures" / "contracts" / "reference" / "contract.yaml")
    assert all(compares_in_server(reference, ent) for ent in reference.entities)

    export_dir = kind.write(tmp_path / "export")
    report = validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")
    db = _target(admin, contract)
    restore(db, contract, export_dir, report)
    total = sum(len(v) for v in kind.records().values())
    plan = dry_run(db, contract, export_dir, report)
    assert (plan.total("skipped"), plan.total("would_update"), plan.total("would_insert")) == (total, 0, 0)

    with db.connect() as conn:
        conn.execute(CHANGE_ONE[kind.__name__.rsplit(".", 1)[-1]])
        conn.commit()
    changed = dry_run(db, contract, export_dir, report)
    assert (changed.total("skipped"), changed.total("would_update")) == (total - 1, 1)


@pytest.mark.parametrize(
    ("columns", "docs", "unmapped"),
    [
        ({"priceCents": "price_cents"}, ['{"sku": "S", "name": "n", "priceCents": 1}', "{}"], []),
        ({"priceCents": "price_cents"}, ['{"price_cents": 1}', '{"sku": "S"}'], []),  # a column, as named
        (
            {"priceCents": "price_cents"},
            ['{"sku": "S", "extra": 1}', '{"more": {"a": 1}}'],
            ["extra", "more"],
        ),
        ({"priceCents": "price_cents", "name": "nosuch"}, ['{"name": "n"}', '{"sku": "S"}'], ["name"]),
        ({"priceCents": "nosuch"}, ['{"priceCents": 1}'], ["priceCents"]),  # mapped to a missing column
    ],
)
def test_the_unmapped_field_check_is_exact(
    columns: dict[str, str], docs: list[str], unmapped: list[str], admin: Database
) -> None:
    """The one-scan check says "some key has no column" exactly when the listing finds one: a key
    is held by its own column unless the contract maps it to another, which must then exist."""
    contract = load_contract(kvstore.CONTRACT)
    products = next(e for e in contract.entities if e.table == "kv_products")
    ent = dataclasses.replace(products, columns=columns)
    db = _target(admin, contract)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE drill_stage (doc jsonb NOT NULL)")
        for doc in docs:
            cur.execute("INSERT INTO drill_stage VALUES (%s::jsonb)", [doc])
        assert _unmapped_fields(cur, ent) == unmapped
