"""Contract version 2: each kind of mistake is named (entity, setting, what is wrong); manifest
profiles read other applications' manifests and fail closed on what they do not understand; the
target schema a contract describes."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ConfigError
from harness.portable.contract import load_contract
from harness.portable.contract.profile import parse_profile, read_view
from harness.portable.target_schema import column_type, schema_ddl
from harness.portable.validate.validator import validate_export
from tests.conftest import REFERENCE_CONTRACT
from tests.foreign import docstore, kvstore
from tests.helpers import rules

Data = dict[str, Any]


@pytest.fixture
def v2_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "docstore.yaml"
    shutil.copy(docstore.CONTRACT, dest)
    return dest


def _mutate(path: Path, change: Callable[[Data], Any]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _ent(data: Data, name: str) -> Data:
    return next(e for e in data["entities"] if e["name"] == name)


V2_ERRORS: list[tuple[str, Callable[[Data], Any], str]] = [
    (
        "unknown field in a setting",
        lambda d: _ent(d, "users")["timestamps"].update(deletedAt="rfc3339"),
        r"entities\[0\] \(users\): timestamps names fields the schema does not declare: deletedAt",
    ),
    (
        "reference to an unknown entity",
        lambda d: _ent(d, "jobs")["references"].append({"field": "kind", "entity": "kinds"}),
        r"\(jobs\): references\[1\]: references unknown entity 'kinds'",
    ),
    (
        "reference to an omitted entity",
        lambda d: _ent(d, "jobs")["references"].append({"field": "kind", "entity": "sessions"}),
        r"unknown entity 'sessions' \(it is listed under 'omitted'\)",
    ),
    (
        "composite reference of the wrong width",
        lambda d: _ent(d, "folders")["references"][1].update(fields=["coverDocumentId"]),
        r"entities\[1\] \(folders\): references\[1\]\.fields: .* is too short",
    ),
    (
        "nested path into an undeclared field",
        lambda d: _ent(d, "documents")["references"].append({"field": "review.by", "entity": "users"}),
        r"\(documents\): references names fields the schema does not declare: review",
    ),
    (
        "malformed path",
        lambda d: _ent(d, "documents")["references"].append({"field": "jobRefs[0].jobId", "entity": "jobs"}),
        r"entities\[2\] \(documents\): references\[4\]\.field: \(str, 16 chars\) fails pattern",
    ),
    (
        "neither entity nor entity_by",
        lambda d: _ent(d, "jobs")["references"].append({"field": "kind"}),
        r"\(jobs\): references\[1\]",
    ),
    (
        "rule over a field that is no reference",
        lambda d: d["rules"][0]["count"]["children"].update(field="title"),
        r"rules\[0\] \(folder-child-count\): documents\.title is not a reference to 'folders'",
    ),
    (
        "rule over an unknown entity",
        lambda d: d["rules"][1]["requires"]["related"].update(entity="audits"),
        r"rules\[1\] \(approved-job-has-approval\): no entity 'audits'",
    ),
    (
        "rule counter that is no field",
        lambda d: d["rules"][0]["count"].update(field="children"),
        r"rules\[0\] \(folder-child-count\): folders has no field 'children'",
    ),
    ("repeated rule ids", lambda d: d["rules"].append(dict(d["rules"][0])), r"rules: ids must be unique"),
    (
        "secret pattern RE2 cannot run in linear time",
        lambda d: d["secret_rules"]["value_patterns"].append(r"(a+)\1"),
        r"secret_rules\.value_patterns\[1\]: not a valid RE2 pattern",
    ),
    (
        "redacted field also declared",
        lambda d: _ent(d, "users")["redact"].append("email"),
        r"\(users\): redact: redacted fields must not be declared in the schema: email",
    ),
    (
        "two fields into one column",
        lambda d: _ent(d, "users").update(columns={"displayName": "email"}),
        r"\(users\): columns: two fields would restore into one column: email",
    ),
    (
        "an entity file named like the manifest",
        lambda d: _ent(d, "users").update(file="manifest.json"),
        r"entities\[0\] \(users\): file: 'manifest.json' does not match",
    ),
    (
        "timestamp form not known",
        lambda d: _ent(d, "users")["timestamps"].update(createdAt="iso8601"),
        r"createdAt",
    ),
    (
        "manifest profile without checksums",
        lambda d: d["manifest"]["files"].pop("checksum"),
        r"manifest: say where the checksums are",
    ),
    (
        "unknown top-level setting",
        lambda d: d.update(absent_is_null=True),
        r"absent_is_null",
    ),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in V2_ERRORS], ids=[c[0] for c in V2_ERRORS])
def test_v2_errors_name_entity_setting_and_problem(
    v2_copy: Path, change: Callable[[Data], Any], message: str
) -> None:
    _mutate(v2_copy, change)
    with pytest.raises(ConfigError, match=message) as info:
        load_contract(v2_copy)
    assert str(v2_copy) in str(info.value)
    assert "is not valid under any of the given schemas" not in str(info.value)


def test_v2_cycle_is_allowed_and_ordered(v2_copy: Path) -> None:
    contract = load_contract(v2_copy)
    assert contract.cycle() is not None and set(contract.cycle() or ()) == {"documents", "folders"}
    order = [e.name for e in contract.load_order()]
    assert sorted(order) == sorted(e.name for e in contract.entities)
    assert order.index("users") < order.index("folders") and order.index("users") < order.index("comments")


def test_v1_cycle_names_only_the_cycle(tmp_path: Path) -> None:
    dest = tmp_path / "reference"
    shutil.copytree(REFERENCE_CONTRACT.parent, dest)
    path = dest / "contract.yaml"
    _mutate(
        path,
        lambda d: (
            _ent(d, "users").setdefault("relationships", []).append({"field": "id", "references": "tasks"})
        ),
    )
    with pytest.raises(ConfigError, match=r"relationships form a cycle: (\w+ -> )+\w+ \(") as info:
        load_contract(path)
    named = str(info.value).split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert named == ["tasks", "templates", "users", "tasks"]  # the cycle, not every entity


@pytest.mark.parametrize("field", ["owner.id", "ownerId", "items[].id"])
def test_v1_reference_beyond_v1_points_to_v2(tmp_path: Path, field: str) -> None:
    dest = tmp_path / "reference"
    shutil.copytree(REFERENCE_CONTRACT.parent, dest)
    path = dest / "contract.yaml"
    _mutate(path, lambda d: _ent(d, "tasks")["relationships"].append({"field": field, "references": "users"}))
    with pytest.raises(ConfigError, match=r"\(tasks\): relationships\[\d+\]\.field: .*contract_version: 2"):
        load_contract(path)


# -- manifest profiles ------------------------------------------------------------------------------
KV_MANIFEST_RAW = {
    "schema_version": {"field": "version"},
    "generated_at": {"field": "created", "form": "epoch_ms"},
    "files": {"field": "files", "shape": "map"},
    "counts": {"field": "counts"},
    "checksums": {"field": "sha256", "keyed_by": "file"},
    "checksum_format": "hex",
    "omitted": {"field": "omitted", "shape": "names"},
    "redactions": {"field": "redactions", "shape": "dotted"},
    "extra_fields": ["tool"],
}
DIGEST = hashlib.sha256(b"x").digest()


def _kv_manifest(**changes: Any) -> Data:
    manifest: Data = {
        "version": 2,
        "created": 1_764_543_600_000,
        "files": {"orders": "orders.jsonl"},
        "counts": {"orders": 3},
        "sha256": {"orders.jsonl": DIGEST.hex()},
        "omitted": ["carts"],
        "redactions": ["customers.cardNumber"],
        "tool": "kv-dump",
    }
    manifest.update(changes)
    return manifest


@pytest.mark.parametrize(
    ("form", "written", "ok"),
    [
        ("hex", DIGEST.hex(), True),
        ("hex", DIGEST.hex().upper(), False),  # a profile says one spelling
        ("hex", "sha256:" + DIGEST.hex(), False),
        ("hex", DIGEST.hex()[:-1], False),
        ("sha256", "sha256:" + DIGEST.hex(), True),
        ("sha256", DIGEST.hex(), False),
        ("base64", base64.b64encode(DIGEST).decode(), True),
        ("base64", base64.b64encode(DIGEST[:31]).decode(), False),  # not 32 bytes
        ("base64", base64.b64encode(DIGEST).decode().rstrip("="), False),  # padding is part of it
        ("base64", DIGEST.hex(), False),
    ],
)
def test_checksum_formats(form: str, written: str, ok: bool) -> None:
    profile = parse_profile({**KV_MANIFEST_RAW, "checksum_format": form}, "c.yaml")
    view = read_view(_kv_manifest(sha256={"orders.jsonl": written}), profile)
    assert (view.checksums == {"orders.jsonl": DIGEST.hex()}) is ok
    assert bool(view.problems) is not ok and (view.bad_checksums == set()) is ok


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"host": "kv-1"}, ["host"]),  # not among extra_fields
        ({"counts": {"orders": -1}}, ["counts", "orders"]),
        ({"counts": {"orders": True}}, ["counts", "orders"]),
        ({"counts": [3]}, ["counts"]),
        ({"version": True}, ["version"]),
        ({"version": None}, ["version"]),
        ({"omitted": ["carts", 7]}, ["omitted", 1]),
        ({"omitted": "carts"}, ["omitted"]),
        ({"redactions": ["customers"]}, ["redactions", 0]),
        ({"redactions": [".cardNumber"]}, ["redactions", 0]),
        ({"redactions": {"customers": ["cardNumber"]}}, ["redactions"]),
        ({"files": ["orders.jsonl"]}, ["files"]),
        ({"files": {"orders": 5}}, ["files", "orders"]),
    ],
)
def test_manifest_parts_out_of_profile_are_named(changes: Data, where: list[Any]) -> None:
    view = read_view(_kv_manifest(**changes), parse_profile(KV_MANIFEST_RAW, "c.yaml"))
    assert [path for path, _ in view.problems] == [where]


def test_map_redactions_fail_closed() -> None:
    raw = {**KV_MANIFEST_RAW, "redactions": {"field": "redactions", "shape": "map"}}
    view = read_view(_kv_manifest(redactions={"customers": "cardNumber"}), parse_profile(raw, "c.yaml"))
    assert [path for path, _ in view.problems] == [["redactions", "customers"]]
    good = read_view(_kv_manifest(redactions={"customers": ["cardNumber"]}), parse_profile(raw, "c.yaml"))
    assert good.problems == [] and good.redactions == {"customers": {"cardNumber"}}


def test_list_profile_reads_counts_and_checksums_from_items() -> None:
    raw = {
        "schema_version": {"field": "formatVersion"},
        "generated_at": {"field": "exportedAt"},
        "files": {
            "field": "files",
            "shape": "list",
            "entity": "e",
            "file": "p",
            "count": "n",
            "checksum": "h",
        },
    }
    profile = parse_profile(raw, "c.yaml")
    manifest = {
        "formatVersion": "3",
        "exportedAt": "2025-01-01T00:00:00Z",
        "files": [{"e": "a", "p": "a.jsonl", "n": 2, "h": "sha256:" + DIGEST.hex()}, {"e": "b"}],
    }
    view = read_view(manifest, profile)
    assert view.entity_files == {"a": "a.jsonl"} and view.counts == {"a": 2}
    assert view.checksums == {"a.jsonl": DIGEST.hex()} and view.schema_version == "3"
    assert [path for path, _ in view.problems] == [["files", 1]]


def test_declared_redaction_present_in_the_records(tmp_path: Path) -> None:
    """The manifest says users.passwordHash was redacted; a record still holds it."""
    data = docstore.records()
    data["users"][2]["passwordHash"] = "x"
    report = validate_export(load_contract(docstore.CONTRACT), docstore.write(tmp_path / "e", data))
    assert "redaction.field_present" in rules(report), [str(f) for f in report.findings]


def test_omitted_entity_the_manifest_does_not_name(tmp_path: Path) -> None:
    export_dir = kvstore.write(tmp_path / "e")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    manifest["omitted"] = []
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    assert rules(validate_export(load_contract(kvstore.CONTRACT), export_dir)) == {"manifest.omitted"}


# -- target schema ----------------------------------------------------------------------------------
def test_column_types_follow_the_contract() -> None:
    docs, kv = load_contract(docstore.CONTRACT), load_contract(kvstore.CONTRACT)
    users, documents = docs.entity("users"), docs.entity("documents")
    assert column_type(users, "createdAt") == "timestamptz"
    assert column_type(users, "lastSeenMs") == "bigint"
    assert column_type(documents, "publishedOn") == "date"
    assert column_type(documents, "jobRefs") == "jsonb" and column_type(documents, "approval") == "jsonb"
    assert column_type(documents, "version") == "bigint" and column_type(documents, "title") == "text"
    assert column_type(kv.entity("products"), "priceCents") == "integer"  # declared


def test_ddl_quotes_names_and_defers_every_foreign_key() -> None:
    text = "\n".join(s.as_string(None) for s in schema_ddl(load_contract(docstore.CONTRACT)))
    assert 'CREATE TABLE "documents"' in text and '"documentId" text NOT NULL' in text
    assert 'PRIMARY KEY ("documentId", "version")' in text and 'UNIQUE ("source", "sourceMessageId")' in text
    fks = [line for line in text.splitlines() if "FOREIGN KEY" in line]
    assert all(line.endswith("DEFERRABLE INITIALLY DEFERRED") for line in fks)
    assert any(
        '("coverDocumentId", "coverVersion") REFERENCES "documents" ("documentId", "version")' in f
        for f in fks
    )
    # nested, conditional and polymorphic references are the validator's: no foreign key can hold them
    assert not any("approverId" in f or "targetId" in f or "jobRefs" in f for f in fks)
    assert '"lastSeenMs" bigint,' in text  # optional: nullable


def test_ddl_refuses_a_name_postgresql_would_truncate(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    shutil.copy(kvstore.CONTRACT, path)
    long_name = "a" * 70
    _mutate(
        path, lambda d: _ent(d, "products")["schema"]["properties"].update({long_name: {"type": "string"}})
    )
    with pytest.raises(
        ConfigError, match=r"entity 'products': field 'a+'…: longer than PostgreSQL's 63-byte"
    ):
        schema_ddl(load_contract(path))
