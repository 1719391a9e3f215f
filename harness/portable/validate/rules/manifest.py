"""Manifest rules: ``manifest.json`` exists, parses strictly, meets its schema and agrees with the
contract and with itself (every file counted and checksummed, no entry for a file that is not an
entity file, a real ``generated_at`` that is not in the future, the contract's own name and hash,
no secrets).

A manifest that breaks its schema does not hide the other checks: whatever parts of it still have
the right shape are checked as well (``usable_manifest``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from harness.clock import parse_rfc3339
from harness.errors import ConfigError
from harness.files import MANIFEST, open_regular
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import ExportContext
from harness.portable.validate.rules.reader import repeats_a_key_exactly
from harness.schema_check import package_validator
from harness.secrets import scan_record
from harness.shapes import describe_schema_error, path_text

#: A manifest larger than this is refused unread.
MAX_MANIFEST_BYTES = 64 << 20


@produces("manifest.missing", "manifest.json", "manifest.schema", "manifest.duplicate_key")
def read_manifest(ctx: ExportContext) -> dict[str, Any] | None:
    """The manifest as a mapping (None when it is missing or unreadable); schema faults are reported
    and the manifest is still returned, so the checks that can run on it do."""
    path = ctx.export_dir / MANIFEST
    if not path.exists() and not path.is_symlink():
        ctx.finding("manifest.missing", MANIFEST, f"no {MANIFEST} in the export")
        return None
    try:
        with open_regular(path) as handle:
            blob = handle.read(MAX_MANIFEST_BYTES + 1)
    except ConfigError:
        return None  # a link or special file: file.not_regular says so
    if len(blob) > MAX_MANIFEST_BYTES:
        ctx.finding("manifest.json", MANIFEST, f"larger than {MAX_MANIFEST_BYTES} bytes; not read")
        return None
    try:
        manifest = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        ctx.finding("manifest.json", MANIFEST, f"not valid JSON: {exc.msg} (line {exc.lineno})")
        return None
    if repeats_a_key_exactly(blob):
        ctx.finding("manifest.duplicate_key", MANIFEST, "an object repeats a key; one value would be lost")
    errors = list(package_validator("manifest.schema.json").iter_errors(manifest))
    for err in errors[:20]:
        where = path_text(err.absolute_path)
        ctx.finding("manifest.schema", MANIFEST, f"{where}: {describe_schema_error(err, show_values=False)}")
    return manifest if isinstance(manifest, dict) else None


def _mapping(manifest: dict[str, Any], key: str, item: type) -> dict[str, Any]:
    """``manifest[key]`` keeping only the entries of the right shape (a broken manifest hides no
    check that its well-formed parts allow)."""
    value = manifest.get(key)
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if isinstance(k, str) and isinstance(v, item) and not isinstance(v, bool)
    }


def entity_files(manifest: dict[str, Any]) -> dict[str, str]:
    return _mapping(manifest, "entity_files", str)


def entity_counts(manifest: dict[str, Any]) -> dict[str, int]:
    return _mapping(manifest, "entity_counts", int)


def checksums(manifest: dict[str, Any]) -> dict[str, str]:
    return _mapping(manifest, "checksums", str)


@produces("manifest.schema_version")
def check_schema_version(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    contract = ctx.contract
    version = manifest.get("schema_version")
    if isinstance(version, str) and version != contract.schema_version:
        ctx.finding(
            "manifest.schema_version",
            MANIFEST,
            f"schema_version ({len(version)} chars) does not match the contract's "
            f"{contract.schema_version!r} ({contract.path})",
        )


@produces("manifest.entities")
def check_entity_files(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    expected = {e.name: e.file for e in ctx.contract.entities}
    listed = entity_files(manifest)
    for name in sorted(set(expected) - set(listed)):
        ctx.finding("manifest.entities", MANIFEST, f"entity {name!r} of the contract is not in the manifest")
    for name in sorted(set(listed) - set(expected)):
        ctx.finding(
            "manifest.entities",
            MANIFEST,
            f"manifest lists an entity the contract does not know ({path_text([name])})",
        )
    for name, file in sorted(listed.items()):
        if name in expected and file != expected[name]:
            ctx.finding(
                "manifest.entities",
                MANIFEST,
                f"entity {name!r} is in another file than the contract's {expected[name]!r}",
            )


@produces("manifest.omitted")
def check_omitted(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    raw = manifest.get("omitted_entities")
    listed = {o.get("entity") for o in raw if isinstance(o, dict)} if isinstance(raw, list) else set()
    for om in ctx.contract.omitted:
        if om.entity not in listed:
            ctx.finding(
                "manifest.omitted",
                MANIFEST,
                f"omitted entity {om.entity!r} is not declared in the manifest's omitted_entities",
            )


@produces("manifest.generated_at")
def check_generated_at(ctx: ExportContext, manifest: dict[str, Any], now: datetime | None = None) -> None:
    value = manifest.get("generated_at")
    if not isinstance(value, str):
        return  # the schema reports a missing or mistyped generated_at
    moment = parse_rfc3339(value)
    if moment is None:
        ctx.finding("manifest.generated_at", MANIFEST, "generated_at is not a real RFC 3339 date-time")
        return
    ahead = (moment - (now or datetime.now(UTC))).total_seconds()
    skew = ctx.strictness.clock_skew_seconds
    if ahead > skew:
        ctx.finding(
            "manifest.generated_at",
            MANIFEST,
            f"generated_at is {ahead:.0f}s in the future (more than the {skew:g}s clock skew allowed)",
        )


@produces("manifest.counts")
def check_counts(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    files, counts = entity_files(manifest), entity_counts(manifest)
    for name in sorted(set(files) - set(counts)):
        ctx.finding("manifest.counts", MANIFEST, f"entity {name!r} has no entity_counts entry")
    for name in sorted(set(counts) - set(files)):
        ctx.finding(
            "manifest.counts", MANIFEST, f"entity_counts names an entity with no file ({path_text([name])})"
        )


@produces("manifest.checksums")
def check_checksum_entries(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    listed = set(entity_files(manifest).values())
    for file in sorted(set(checksums(manifest)) - listed):
        ctx.finding(
            "manifest.checksums",
            MANIFEST,
            f"checksums names a file that is not an entity file of the export ({path_text([file])})",
        )


@produces("manifest.contract", "manifest.contract_version")
def check_contract_identity(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    declared = manifest.get("contract")
    if not isinstance(declared, dict):
        return
    contract = ctx.contract
    if declared.get("name") != contract.name:
        ctx.finding(
            "manifest.contract",
            MANIFEST,
            f"the export was written for another contract, not {contract.name!r}",
        )
    elif declared.get("sha256") != f"sha256:{contract.sha256}":
        ctx.finding(
            "manifest.contract_version",
            MANIFEST,
            f"the export was written with another version of contract {contract.name!r} (sha256 differs)",
        )


@produces("manifest.secret")
def check_manifest_secrets(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    for hit in scan_record(manifest):
        ctx.finding("manifest.secret", MANIFEST, hit.describe(), field=hit.path)
