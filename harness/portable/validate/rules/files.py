"""File rules: the export holds exactly the contract's files, each with the manifest's
checksum and record count."""

from __future__ import annotations

import os
import stat

from harness.files import MANIFEST
from harness.portable.contract import ManifestView
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, ExportContext
from harness.secrets import safe_key

_KIND = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def regular_files(ctx: ExportContext) -> set[str]:
    """The export's regular files (links are never followed, not even dangling ones)."""
    return {
        entry.name
        for entry in os.scandir(ctx.export_dir)
        if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode)
    }


@produces("file.unexpected", "file.missing", "file.not_regular")
def check_files(ctx: ExportContext) -> None:
    """Exactly the contract's files, each a regular file: a directory input gets the refusals an
    archive member gets (no link, no directory, no device), so nothing outside the export is read."""
    expected = {e.file for e in ctx.contract.entities} | {MANIFEST}
    present = set()
    for entry in sorted(os.scandir(ctx.export_dir), key=lambda e: e.name):
        name = safe_key(entry.name)
        mode = entry.stat(follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            kind = _KIND.get(stat.S_IFMT(mode), "not a regular file")
            ctx.finding(
                "file.not_regular", name, f"{kind}; an export holds regular files only, never followed"
            )
            continue
        present.add(entry.name)
        if entry.name not in expected:
            ctx.finding("file.unexpected", name, "file is not part of the contract's export")
    for ent in ctx.contract.entities:
        if ent.file not in present and not os.path.lexists(ctx.export_dir / ent.file):
            ctx.finding("file.missing", ent.file, f"entity {ent.name!r} file is missing")


@produces("file.checksum")
def check_checksum(ctx: EntityContext, view: ManifestView, sha256_hex: str) -> None:
    file = ctx.entity.file
    want = view.checksums.get(file)
    got = f"sha256:{sha256_hex}"
    if file in view.bad_checksums:
        ctx.finding(
            "file.checksum", file, "the manifest's checksum for this file is not in the declared form"
        )
    elif want is None:
        ctx.finding("file.checksum", file, "manifest has no checksum for this file")
    elif want != sha256_hex:
        ctx.finding("file.checksum", file, f"sha256 mismatch: the file's is {got}, the manifest's differs")


@produces("count.mismatch")
def check_count(ctx: EntityContext, view: ManifestView, lines: int) -> None:
    count = view.counts.get(ctx.entity.name)
    if count is not None and count != lines:
        ctx.finding("count.mismatch", ctx.entity.file, f"manifest says {count} records, file has {lines}")
