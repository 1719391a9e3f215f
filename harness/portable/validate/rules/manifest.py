"""Manifest rules: ``manifest.json`` exists, parses strictly, has its profile's shape (the harness's
own manifest schema, or the shape a version-2 contract declares) and agrees with the contract and
with itself: every file counted and checksummed, no entry for a file that is not an entity file, a
real ``generated_at`` that is not in the future, the contract's own name and hash, no secrets.

A manifest that breaks its profile does not hide the other checks: the rules work on the
:class:`~harness.portable.contract.ManifestView` of whatever parts of it have the right shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from harness.clock import parse_rfc3339
from harness.errors import ConfigError
from harness.files import MANIFEST, open_regular
from harness.portable.contract import ManifestView
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
    if ctx.contract.profile.builtin:
        errors = list(package_validator("manifest.schema.json").iter_errors(manifest))
        for err in errors[:20]:
            message = describe_schema_error(err, show_values=False)
            ctx.finding("manifest.schema", MANIFEST, f"{path_text(err.absolute_path)}: {message}")
    elif not isinstance(manifest, dict):
        ctx.finding("manifest.schema", MANIFEST, "not a JSON object")
    return manifest if isinstance(manifest, dict) else None


@produces("manifest.schema")
def check_profile_shape(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    """A declared (version-2) manifest profile: the parts it names have their shape (the harness's
    own profile is checked against its JSON Schema when the manifest is read)."""
    if ctx.contract.profile.builtin:
        return
    for where, problem in view.problems[:50]:
        ctx.finding("manifest.schema", MANIFEST, f"{path_text(where)}: {problem}")


@produces("manifest.schema_version")
def check_schema_version(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    contract = ctx.contract
    version = view.schema_version
    if version is not None and version != contract.schema_version:
        ctx.finding(
            "manifest.schema_version",
            MANIFEST,
            f"schema_version ({len(version)} chars) does not match the contract's "
            f"{contract.schema_version!r} ({contract.path})",
        )


@produces("manifest.entities")
def check_entity_files(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    expected = {e.name: e.file for e in ctx.contract.entities}
    listed = view.entity_files
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
def check_omitted(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    listed = view.omitted if view.omitted is not None else set()
    for om in ctx.contract.omitted:
        if om.entity not in listed:
            ctx.finding(
                "manifest.omitted",
                MANIFEST,
                f"omitted entity {om.entity!r} is not declared in the manifest's omitted entities",
            )


def generated_moment(value: Any, form: str) -> datetime | None:
    """``generated_at`` in its profile's form as an aware datetime, or None when it is not one."""
    if form == "rfc3339":
        return parse_rfc3339(value) if isinstance(value, str) else None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    seconds = value / 1000 if form == "epoch_ms" else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@produces("manifest.generated_at")
def check_generated_at(
    ctx: ExportContext, manifest: dict[str, Any], view: ManifestView, now: datetime | None = None
) -> None:
    value = view.generated_at
    if value is None:
        return  # the schema reports a missing generated_at
    if ctx.contract.profile.builtin and not isinstance(value, str):
        return  # the manifest schema reports a mistyped one
    moment = generated_moment(value, ctx.contract.profile.generated_form)
    if moment is None:
        form = ctx.contract.profile.generated_form
        ctx.finding("manifest.generated_at", MANIFEST, f"generated_at is not a real {form} time")
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
def check_counts(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    files, counts = view.entity_files, view.counts
    for name in sorted(set(files) - set(counts)):
        ctx.finding("manifest.counts", MANIFEST, f"entity {name!r} has no count")
    for name in sorted(set(counts) - set(files)):
        ctx.finding(
            "manifest.counts", MANIFEST, f"a count names an entity with no file ({path_text([name])})"
        )


@produces("manifest.checksums")
def check_checksum_entries(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    listed = set(view.entity_files.values())
    for file in sorted((set(view.checksums) | view.bad_checksums) - listed):
        ctx.finding(
            "manifest.checksums",
            MANIFEST,
            f"a checksum names a file that is not an entity file of the export ({path_text([file])})",
        )


@produces("manifest.contract", "manifest.contract_version")
def check_contract_identity(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    declared = view.contract
    if declared is None:
        return
    contract = ctx.contract
    if declared.get("name") != contract.name:
        message = f"the export was written for another contract, not {contract.name!r}"
        ctx.finding("manifest.contract", MANIFEST, message)
    elif declared.get("sha256") != f"sha256:{contract.sha256}":
        ctx.finding(
            "manifest.contract_version",
            MANIFEST,
            f"the export was written with another version of contract {contract.name!r} (sha256 differs)",
        )


@produces("manifest.secret")
def check_manifest_secrets(ctx: ExportContext, manifest: dict[str, Any], view: ManifestView) -> None:
    for hit in scan_record(manifest):
        ctx.finding("manifest.secret", MANIFEST, hit.describe(), field=hit.path)
