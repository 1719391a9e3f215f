"""Exports the harness did not write, judged by a version-2 contract alone.

Two applications' exporters are imitated in tests/foreign (a document store: camelCase, composite
keys, nested, conditional and polymorphic references, a reference cycle; a key-value store: bare-hex
checksums in maps, epoch times, a numeric format version, snake_case restore columns). Every valid
export passes validate, dry-run, restore, a second dry-run that finds every record identical, and the
re-export compare; every broken variant fails with its exact rule; a field the target cannot hold
stops the restore before anything is written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.cli import main
from harness.errors import VerificationFailed
from harness.portable.compare import compare_exports
from harness.portable.contract import Contract, load_contract
from harness.portable.dryrun import dry_run
from harness.portable.export import SourceInfo, export
from harness.portable.restore import apply_schema, restore
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database, create_database
from tests.conftest import REPO
from tests.foreign import docstore, kvstore
from tests.helpers import rules

KINDS = {"docstore": docstore, "kvstore": kvstore}
_made = iter(range(10_000))


def _validate(contract: Contract, export_dir: Path, tmp_path: Path) -> ValidationReport:
    return validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")


def _target(admin: Database, contract: Contract) -> Database:
    db = create_database(admin, f"foreign_{contract.name}_{next(_made)}").with_environment("scratch")
    apply_schema(db, "contract", REPO, contract)
    return db


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> ModuleType:
    module: ModuleType = KINDS[request.param]
    return module


def _count(data: dict[str, list[dict[str, Any]]]) -> int:
    return sum(len(v) for v in data.values())


# -- valid exports ----------------------------------------------------------------------------------
def test_valid_export_has_no_finding(kind: ModuleType, tmp_path: Path) -> None:
    contract = load_contract(kind.CONTRACT)
    report = _validate(contract, kind.write(tmp_path / "export"), tmp_path)
    assert report.findings == [], [str(f) for f in report.findings]
    assert report.records_checked == _count(kind.records())


def test_valid_export_restores_and_compares_equal(kind: ModuleType, admin: Database, tmp_path: Path) -> None:
    contract = load_contract(kind.CONTRACT)
    export_dir = kind.write(tmp_path / "export")
    total = _count(kind.records())
    report = _validate(contract, export_dir, tmp_path)
    target = _target(admin, contract)

    plan = dry_run(target, contract, export_dir, report)
    assert plan.zero_writes_proven, plan.proof
    assert (plan.total("would_insert"), plan.total("would_update"), plan.total("invalid")) == (total, 0, 0)

    done = restore(target, contract, export_dir, report)
    assert sum(done.inserted.values()) == total and sum(done.updated.values()) == 0

    again = dry_run(target, contract, export_dir, report)  # every record is there, semantically equal
    assert (again.total("skipped"), again.total("would_update")) == (total, 0)

    reexport = export(target, contract, tmp_path / "reexport", SourceInfo.from_env("scratch"))
    comparison = compare_exports(contract, export_dir, reexport.directory)
    assert comparison["passed"], comparison
    assert all(e["source_count"] == e["restored_count"] > 0 for e in comparison["entities"].values())


def test_restored_values_keep_their_meaning(admin: Database, tmp_path: Path) -> None:
    """Spot checks the compare must agree with: camelCase columns, an offset time as its instant,
    composite keys, nested objects as JSON, snake_case columns from the kvstore mapping."""
    docs = load_contract(docstore.CONTRACT)
    export_dir = docstore.write(tmp_path / "docs")
    target = _target(admin, docs)
    restore(target, docs, export_dir, _validate(docs, export_dir, tmp_path))
    with target.connect() as conn:
        row = conn.execute(
            'SELECT "createdAt" AT TIME ZONE \'UTC\', "lastSeenMs" FROM users WHERE "userId" = %s', ["u-0000"]
        ).fetchone()
        assert row is not None and str(row[0]) == "2025-01-09 22:30:00" and row[1] == 1_735_689_600_000
        row = conn.execute(
            "SELECT approval ->> 'decidedBy', \"publishedOn\"::text FROM documents"
            ' WHERE "documentId" = %s AND version = 2',
            ["doc-0"],
        ).fetchone()
        assert row == ("u-0000", "2025-02-10")

    kv = load_contract(kvstore.CONTRACT)
    kv_dir = kvstore.write(tmp_path / "kv")
    kv_target = _target(admin, kv)
    restore(kv_target, kv, kv_dir, _validate(kv, kv_dir, tmp_path))
    with kv_target.connect() as conn:
        row = conn.execute(
            "SELECT count(*), min(created_ms) FROM kv_customers WHERE email IS NULL"
        ).fetchone()
        assert row == (6, 1_700_000_000_000)


def test_cli_validate_dry_run_restore_compare(
    admin: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = load_contract(kvstore.CONTRACT)
    export_dir = kvstore.write(tmp_path / "export")
    archive = tmp_path / "kv.tar.gz"
    shutil.make_archive(str(archive).removesuffix(".tar.gz"), "gztar", export_dir)  # tar -C dir .
    assert main(["target-schema", "--contract", str(kvstore.CONTRACT)]) == 0
    ddl = capsys.readouterr().out
    assert ddl.count("CREATE TABLE") == len(contract.entities)
    target = create_database(admin, f"foreign_cli_{next(_made)}")
    with target.connect() as conn:
        conn.execute(ddl.encode())  # the printed statements, as a user would run them
        conn.commit()
    monkeypatch.setenv("DRILL_TEST_FOREIGN_DSN", target.conninfo)
    base = [str(archive), "--contract", str(kvstore.CONTRACT), "--work-dir", str(tmp_path / "w")]
    to = ["--target-dsn-env", "DRILL_TEST_FOREIGN_DSN", "--target-environment", "scratch"]
    assert main(["validate", *base]) == 0
    assert main(["compare", *base, *to]) == 1  # nothing restored yet: not equal
    assert main(["dry-run", *base, *to]) == 0
    assert main(["restore", *base, *to]) == 0
    capsys.readouterr()
    assert main(["compare", *base, *to, "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["passed"] is True


# -- broken variants --------------------------------------------------------------------------------
Edit = Callable[[dict[str, list[dict[str, Any]]]], None]


def _dangling_job(data: dict[str, list[dict[str, Any]]]) -> None:
    doc = next(d for d in data["documents"] if d["jobRefs"])
    doc["jobRefs"][-1]["jobId"] = 999


def _dangling_decider(data: dict[str, list[dict[str, Any]]]) -> None:
    next(d for d in data["documents"] if "approval" in d)["approval"]["decidedBy"] = "u-ffff"


def _dangling_cover(data: dict[str, list[dict[str, Any]]]) -> None:
    next(f for f in data["folders"] if "coverVersion" in f)["coverVersion"] = 7  # (documentId, 7)


def _dangling_polymorphic(data: dict[str, list[dict[str, Any]]]) -> None:
    comment = next(c for c in data["comments"] if c["targetType"] == "user")
    comment["targetId"] = "f-0"  # a folder id, but the type says user


def _unapproved_approver(data: dict[str, list[dict[str, Any]]]) -> None:
    job = next(j for j in data["jobs"] if j["status"] == "approved")
    job["approverId"] = "u-ffff"


def _composite_duplicate_unique(data: dict[str, list[dict[str, Any]]]) -> None:
    first, second = data["documents"][0], data["documents"][1]
    second["source"], second["sourceMessageId"] = first["source"], first["sourceMessageId"]


def _composite_duplicate_key(data: dict[str, list[dict[str, Any]]]) -> None:
    first, second = data["documents"][0], data["documents"][1]
    assert first["documentId"] == second["documentId"]
    second["version"] = first["version"]  # (doc-0, 1) twice; each part alone repeats legitimately


def _child_count(data: dict[str, list[dict[str, Any]]]) -> None:
    data["folders"][0]["childCount"] += 1


def _approval_missing(data: dict[str, list[dict[str, Any]]]) -> None:
    data["approvals"].pop()


def _leaked_key(data: dict[str, list[dict[str, Any]]]) -> None:
    data["documents"][3]["meta"]["nested"]["internalToken"] = "opaque"


def _leaked_value(data: dict[str, list[dict[str, Any]]]) -> None:
    data["documents"][2]["title"] = "see dst_Ab3dE5gH7jK9mN1pQ3sT5vW7"


def _epoch_as_text(data: dict[str, list[dict[str, Any]]]) -> None:
    data["documents"][0]["publishedOn"] = "2025-02-30"


def _kv_dangling_sku(data: dict[str, list[dict[str, Any]]]) -> None:
    data["orders"][4]["lines"][0]["sku"] = "SKU-999"


def _kv_duplicate_unique(data: dict[str, list[dict[str, Any]]]) -> None:
    data["orders"][1]["customerId"] = data["orders"][0]["customerId"]
    data["orders"][1]["placedMs"] = data["orders"][0]["placedMs"]


def _kv_gold_without_order(data: dict[str, list[dict[str, Any]]]) -> None:
    buyers = {o["customerId"] for o in data["orders"]}
    next(c for c in data["customers"] if c["id"] not in buyers)["tier"] = "gold"


def _kv_leaked_key(data: dict[str, list[dict[str, Any]]]) -> None:
    next(o for o in data["orders"] if "attrs" in o)["attrs"]["unlock_code"] = "4711"


def _kv_leaked_value(data: dict[str, list[dict[str, Any]]]) -> None:
    data["orders"][3]["note"] = "key kvs_live_0123456789abcdef0123 for the courier"


def _kv_undeclared(data: dict[str, list[dict[str, Any]]]) -> None:
    data["orders"][2]["giftWrap"] = True


DATA_VARIANTS: list[tuple[ModuleType, str, Edit, set[str]]] = [
    (docstore, "dangling jobRefs[].jobId", _dangling_job, {"relationship.dangling"}),
    (docstore, "dangling approval.decidedBy", _dangling_decider, {"relationship.dangling"}),
    (docstore, "dangling composite cover", _dangling_cover, {"relationship.dangling"}),
    (docstore, "polymorphic target of the wrong type", _dangling_polymorphic, {"relationship.dangling"}),
    (docstore, "conditional approver missing", _unapproved_approver, {"relationship.dangling"}),
    (docstore, "composite unique duplicated", _composite_duplicate_unique, {"record.duplicate_unique"}),
    (docstore, "composite key duplicated", _composite_duplicate_key, {"record.duplicate_id"}),
    (docstore, "childCount off by one", _child_count, {"rule.folder-child-count"}),
    (docstore, "approved job without approval", _approval_missing, {"rule.approved-job-has-approval"}),
    (docstore, "leaked secret key", _leaked_key, {"redaction.secret"}),
    (docstore, "leaked secret value", _leaked_value, {"redaction.secret"}),
    (docstore, "impossible date", _epoch_as_text, {"timestamp.unparseable"}),
    (kvstore, "dangling lines[].sku", _kv_dangling_sku, {"relationship.dangling"}),
    (kvstore, "composite unique duplicated", _kv_duplicate_unique, {"record.duplicate_unique"}),
    (kvstore, "gold customer without order", _kv_gold_without_order, {"rule.gold-customer-has-order"}),
    (kvstore, "leaked secret key", _kv_leaked_key, {"redaction.secret"}),
    (kvstore, "leaked secret value", _kv_leaked_value, {"redaction.secret"}),
    (kvstore, "undeclared field", _kv_undeclared, {"record.schema"}),
]


@pytest.mark.parametrize(
    ("kind", "edit", "expected"),
    [(k, e, r) for k, _, e, r in DATA_VARIANTS],
    ids=[f"{k.__name__.rsplit('.', 1)[-1]}: {name}" for k, name, _, _ in DATA_VARIANTS],
)
def test_broken_variant_fails_with_its_rule(
    kind: ModuleType, edit: Edit, expected: set[str], tmp_path: Path
) -> None:
    data = kind.records()
    edit(data)
    report = _validate(load_contract(kind.CONTRACT), kind.write(tmp_path / "export", data), tmp_path)
    assert not report.ok
    assert rules(report) == expected, [str(f) for f in report.findings]


def _docstore_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["entity"]: item for item in manifest["files"]}


@pytest.mark.parametrize("kind", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_checksum_mismatch(kind: ModuleType, tmp_path: Path) -> None:
    export_dir = kind.write(tmp_path / "export")
    path = export_dir / f"{kind.ENTITIES[0]}.jsonl"
    path.write_bytes(path.read_bytes().replace(b"1", b"2", 1))  # same count, other bytes
    report = _validate(load_contract(kind.CONTRACT), export_dir, tmp_path)
    assert "file.checksum" in rules(report), [str(f) for f in report.findings]


@pytest.mark.parametrize("kind", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_count_mismatch(kind: ModuleType, tmp_path: Path) -> None:
    export_dir = kind.write(tmp_path / "export")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    if kind is docstore:
        _docstore_files(manifest)["jobs"]["records"] += 1
    else:
        manifest["counts"]["products"] -= 1
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    report = _validate(load_contract(kind.CONTRACT), export_dir, tmp_path)
    assert rules(report) == {"count.mismatch"}, [str(f) for f in report.findings]


def test_manifest_outside_its_profile_still_checks_the_files(tmp_path: Path) -> None:
    """A manifest field of the wrong shape is a finding, and the checksums it does hold are still
    checked (a failed profile never hides a changed file)."""
    export_dir = kvstore.write(tmp_path / "export")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    manifest["created"] = "yesterday"
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    path = export_dir / "orders.jsonl"
    path.write_bytes(path.read_bytes().replace(b"gift", b"gilt", 1))
    report = _validate(load_contract(kvstore.CONTRACT), export_dir, tmp_path)
    assert {"manifest.generated_at", "file.checksum"} <= rules(report), [str(f) for f in report.findings]


# -- restore mapping --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "entity", "table", "column", "tables"),
    [
        (kvstore, "orders", "kv_orders", "note", ("kv_customers", "kv_orders")),
        (docstore, "documents", "documents", "approval", ("users", "folders", "documents")),
    ],
    ids=["kvstore", "docstore"],
)
def test_field_without_a_column_stops_the_restore(
    kind: ModuleType,
    entity: str,
    table: str,
    column: str,
    tables: tuple[str, ...],
    admin: Database,
    tmp_path: Path,
) -> None:
    """A target made from an older schema (one column fewer): the restore names the entity and the
    field and writes nothing; jsonb_populate_record would have dropped the field silently."""
    contract = load_contract(kind.CONTRACT)
    export_dir = kind.write(tmp_path / "export")
    report = _validate(contract, export_dir, tmp_path)
    target = _target(admin, contract)
    with target.connect() as conn:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.commit()
    with pytest.raises(VerificationFailed, match=rf"entity '{entity}': field\(s\) {column} have no column"):
        restore(target, contract, export_dir, report)
    with target.connect() as conn:
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone() for t in tables]
    assert counts == [(0,)] * len(tables)


def test_changed_value_after_restore_fails_the_compare(admin: Database, tmp_path: Path) -> None:
    """The compare bites: one changed string, one dropped optional field, one shifted instant."""
    contract = load_contract(docstore.CONTRACT)
    export_dir = docstore.write(tmp_path / "export")
    target = _target(admin, contract)
    restore(target, contract, export_dir, _validate(contract, export_dir, tmp_path))
    with target.connect() as conn:
        conn.execute("UPDATE comments SET body = body || ' ' WHERE \"commentId\" = 'c-1'")
        conn.execute('UPDATE users SET "lastSeenMs" = NULL WHERE "userId" = \'u-0000\'')
        conn.execute('UPDATE approvals SET "decidedAt" = "decidedAt" + interval \'1 microsecond\'')
        conn.commit()
    again = export(target, contract, tmp_path / "again", SourceInfo.from_env("scratch"))
    result = compare_exports(contract, export_dir, again.directory)
    bad = {name for name, e in result["entities"].items() if not e["match"]}
    assert not result["passed"] and bad == {"comments", "users", "approvals"}
    assert result["entities"]["comments"]["only_in_source"] == 1
    assert result["entities"]["comments"]["only_in_restored"] == 1
    assert "c-1" not in json.dumps(result)  # counts, never a record
