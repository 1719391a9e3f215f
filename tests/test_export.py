"""Exporter against a real seeded database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from harness.errors import ConfigError
from harness.portable.contract import Contract, load_contract
from harness.portable.export import ExportResult, SourceInfo, export
from harness.postgres.database import Database
from tests.conftest import REFERENCE_CONTRACT
from tests.helpers import read_records


def test_manifest_fields_and_counts(reference_export: ExportResult, template_db: Database) -> None:
    manifest = json.loads((reference_export.directory / "manifest.json").read_text())
    for key in (
        "schema_version",
        "generated_at",
        "source_environment",
        "source_stack",
        "source_region",
        "app_git_sha",
        "export_format_version",
        "entity_files",
        "entity_counts",
        "checksums",
        "redactions",
        "omitted_entities",
    ):
        assert key in manifest, key
    assert manifest["omitted_entities"] == [
        {"entity": "sessions", "reason": manifest["omitted_entities"][0]["reason"]}
    ]
    assert manifest["redactions"]["users"] == ["password_hash", "session_token", "api_key"]
    with template_db.connect() as conn:
        for entity, count in manifest["entity_counts"].items():
            row = conn.execute(f"SELECT count(*) FROM {entity}").fetchone()
            assert row is not None and row[0] == count, entity
    assert sorted(p.name for p in reference_export.directory.iterdir()) == sorted(
        [*manifest["entity_files"].values(), "manifest.json"]
    )


def test_records_are_canonical(reference_export: ExportResult) -> None:
    for path in reference_export.directory.glob("*.jsonl"):
        raw = path.read_bytes().splitlines()
        ids = []
        for line in raw:
            record = orjson.loads(line)
            assert list(record) == sorted(record), path.name
            ids.append(record["id"])
            for key, value in record.items():
                if key.endswith("_at") and value is not None:
                    assert (
                        value.endswith("Z") and datetime.fromisoformat(value).utcoffset().total_seconds() == 0
                    )
        assert ids == sorted(ids), f"{path.name} not ordered by primary key"
    users = read_records(reference_export.directory / "users.jsonl")
    assert not {"password_hash", "session_token", "api_key"} & set(users[0])
    files = read_records(reference_export.directory / "files.jsonl")
    assert not {"download_url", "thumbnail"} & set(files[0])


def test_export_is_deterministic(
    template_db: Database, contract: Contract, reference_export: ExportResult, tmp_path: Path
) -> None:
    again = export(template_db, contract, tmp_path / "again", SourceInfo.from_env("drill"))
    assert again.manifest["checksums"] == reference_export.manifest["checksums"]


def test_existing_output_is_never_overwritten(
    template_db: Database, contract: Contract, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        export(template_db, contract, out)


def _contract_with(tmp_path: Path, change) -> Contract:  # type: ignore[no-untyped-def]
    import shutil

    import yaml

    dest = tmp_path / "c"
    shutil.copytree(REFERENCE_CONTRACT.parent, dest)
    data = yaml.safe_load((dest / "contract.yaml").read_text())
    change(data)
    (dest / "contract.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_contract(dest / "contract.yaml")


def test_unlisted_column_stops_the_export_and_leaves_nothing(source_db: Database, tmp_path: Path) -> None:
    with source_db.connect() as conn:
        conn.execute("ALTER TABLE users ADD COLUMN recovery_codes text")
        conn.commit()
    contract = load_contract(REFERENCE_CONTRACT)
    with pytest.raises(ConfigError, match="recovery_codes"):
        export(source_db, contract, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_binary_column_must_be_redacted(source_db: Database, tmp_path: Path) -> None:
    def unredact(data: dict) -> None:  # type: ignore[type-arg]
        files = next(e for e in data["entities"] if e["name"] == "files")
        files["redact"] = ["download_url"]
        files["schema"] = json.loads((REFERENCE_CONTRACT.parent / "schemas/files.schema.json").read_text())
        files["schema"]["properties"]["thumbnail"] = {}

    contract = _contract_with(tmp_path, unredact)
    with pytest.raises(ConfigError, match="'thumbnail' is binary"):
        export(source_db, contract, tmp_path / "out")


def test_query_source(source_db: Database, tmp_path: Path) -> None:
    def only_admins(data: dict) -> None:  # type: ignore[type-arg]
        data["entities"] = [e for e in data["entities"] if e["name"] == "users"]
        data["entities"][0]["source"] = {"query": "SELECT * FROM users WHERE role IN ('owner', 'admin')"}
        data["omitted"] = []

    contract = _contract_with(tmp_path, only_admins)
    result = export(source_db, contract, tmp_path / "out")
    roles = {r["role"] for r in read_records(tmp_path / "out" / "users.jsonl")}
    assert roles <= {"owner", "admin"}
    assert result.rows > 0


def test_missing_source_table_is_named(source_db: Database, tmp_path: Path) -> None:
    contract = _contract_with(tmp_path, lambda d: d["entities"][0]["source"].update(table="no_such_table"))
    with pytest.raises(ConfigError, match="entity 'users': cannot read source no_such_table"):
        export(source_db, contract, tmp_path / "out")
    assert not (tmp_path / "out.partial").exists()
