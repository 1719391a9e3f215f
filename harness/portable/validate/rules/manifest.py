"""Manifest rules: ``manifest.json`` exists, parses, meets its schema and agrees with the contract."""

from __future__ import annotations

from typing import Any

import orjson

from harness.files import MANIFEST
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import ExportContext
from harness.schema_check import error_path, package_validator


@produces("manifest.missing", "manifest.json", "manifest.schema")
def read_manifest(ctx: ExportContext) -> dict[str, Any] | None:
    """The manifest, or None when it is missing, unreadable or fails its schema."""
    path = ctx.export_dir / MANIFEST
    if not path.is_file():
        ctx.finding("manifest.missing", MANIFEST, f"no {MANIFEST} in {ctx.export_dir}")
        return None
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        ctx.finding("manifest.json", MANIFEST, f"not valid JSON: {exc}")
        return None
    errors = list(package_validator("manifest.schema.json").iter_errors(manifest))
    for err in errors[:20]:
        ctx.finding("manifest.schema", MANIFEST, f"{error_path(err)}: {err.message}")
    if errors or not isinstance(manifest, dict):
        return None
    return manifest


@produces("manifest.schema_version")
def check_schema_version(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    contract = ctx.contract
    if manifest["schema_version"] != contract.schema_version:
        ctx.finding(
            "manifest.schema_version",
            MANIFEST,
            f"schema_version {manifest['schema_version']!r} does not match the contract's "
            f"{contract.schema_version!r} ({contract.path})",
        )


@produces("manifest.entities")
def check_entity_files(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    expected = {e.name: e.file for e in ctx.contract.entities}
    for name in sorted(set(expected) - set(manifest["entity_files"])):
        ctx.finding("manifest.entities", MANIFEST, f"entity {name!r} of the contract is not in the manifest")
    for name in sorted(set(manifest["entity_files"]) - set(expected)):
        ctx.finding(
            "manifest.entities", MANIFEST, f"manifest lists entity {name!r} the contract does not know"
        )
    for name, file in sorted(manifest["entity_files"].items()):
        if name in expected and file != expected[name]:
            ctx.finding(
                "manifest.entities",
                MANIFEST,
                f"entity {name!r} is in {file!r}, contract says {expected[name]!r}",
            )


@produces("manifest.omitted")
def check_omitted(ctx: ExportContext, manifest: dict[str, Any]) -> None:
    listed = {o["entity"] for o in manifest["omitted_entities"]}
    for om in ctx.contract.omitted:
        if om.entity not in listed:
            ctx.finding(
                "manifest.omitted",
                MANIFEST,
                f"omitted entity {om.entity!r} is not declared in the manifest's omitted_entities",
            )
