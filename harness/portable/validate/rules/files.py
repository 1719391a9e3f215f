"""File rules: the export holds exactly the contract's files, each with the manifest's
checksum and record count."""

from __future__ import annotations

from typing import Any

from harness.files import MANIFEST
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, ExportContext


@produces("file.unexpected", "file.missing")
def check_files(ctx: ExportContext) -> None:
    expected = {e.file for e in ctx.contract.entities} | {MANIFEST}
    for path in sorted(ctx.export_dir.iterdir()):
        if path.name not in expected:
            ctx.finding("file.unexpected", path.name, "file is not part of the contract's export")
    for ent in ctx.contract.entities:
        if not (ctx.export_dir / ent.file).is_file():
            ctx.finding("file.missing", ent.file, f"entity {ent.name!r} file is missing")


@produces("file.checksum")
def check_checksum(ctx: EntityContext, manifest: dict[str, Any], sha256_hex: str) -> None:
    file = ctx.entity.file
    want = manifest["checksums"].get(file)
    got = f"sha256:{sha256_hex}"
    if want is None:
        ctx.finding("file.checksum", file, "manifest has no checksum for this file")
    elif want != got:
        ctx.finding("file.checksum", file, f"sha256 mismatch: manifest {want}, file {got}")


@produces("count.mismatch")
def check_count(ctx: EntityContext, manifest: dict[str, Any], lines: int) -> None:
    count = manifest["entity_counts"].get(ctx.entity.name)
    if count is not None and count != lines:
        ctx.finding("count.mismatch", ctx.entity.file, f"manifest says {count} records, file has {lines}")
