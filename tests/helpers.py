"""Test helpers for building broken exports."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from harness.archive import ExtractLimits, extract_archive
from harness.errors import ArchiveError, ConfigError


def read_records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def rewrite_lines(
    export_dir: Path, file: str, change: Callable[[list[bytes]], list[bytes]], *, fix_manifest: bool = True
) -> None:
    """Change a JSONL file's raw lines; by default fix the manifest so only the intended rule fires."""
    path = export_dir / file
    lines = change(path.read_bytes().splitlines())
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(data)
    if fix_manifest:
        manifest_path = export_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["checksums"][file] = "sha256:" + hashlib.sha256(data).hexdigest()
        entity = next(name for name, f in manifest["entity_files"].items() if f == file)
        manifest["entity_counts"][entity] = len(lines)
        manifest_path.write_text(json.dumps(manifest, indent=2))


def rewrite_bytes(export_dir: Path, file: str, change: Callable[[bytes], bytes]) -> None:
    """Change a JSONL file's bytes as they are (line endings, padding, final newline); fix the
    manifest's checksum and count so only the intended rule fires."""
    path = export_dir / file
    data = change(path.read_bytes())
    path.write_bytes(data)
    manifest_path = export_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"][file] = "sha256:" + hashlib.sha256(data).hexdigest()
    entity = next(name for name, f in manifest["entity_files"].items() if f == file)
    manifest["entity_counts"][entity] = len(data.splitlines(keepends=True))
    manifest_path.write_text(json.dumps(manifest, indent=2))


def edit_record(
    export_dir: Path, file: str, index: int, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply ``change`` to record number ``index`` (0-based) and return the changed record."""
    changed: dict[str, Any] = {}

    def apply(lines: list[bytes]) -> list[bytes]:
        record = orjson.loads(lines[index])
        change(record)
        changed.update(record)
        lines[index] = orjson.dumps(record)
        return lines

    rewrite_lines(export_dir, file, apply)
    return changed


def rules(report: Any) -> set[str]:
    return set(report.rule_counts)


def write_items_export(root: Path, lines: list[bytes], source: str = "fuzz") -> Path:
    """A version-1 export of one entity ``items`` (``items.jsonl``) holding ``lines``, its manifest
    counting and checksumming them; ``source`` fills the manifest's provenance fields."""
    root.mkdir(parents=True)
    data = b"".join(line + b"\n" for line in lines)
    (root / "items.jsonl").write_bytes(data)
    manifest = {
        "export_format_version": "1",
        "schema_version": "1",
        "generated_at": "2025-01-01T00:00:00Z",
        "source_environment": source,
        "source_stack": source,
        "source_region": source,
        "app_git_sha": source,
        "entity_files": {"items": "items.jsonl"},
        "entity_counts": {"items": len(lines)},
        "checksums": {"items.jsonl": "sha256:" + hashlib.sha256(data).hexdigest()},
        "redactions": {},
        "omitted_entities": [],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def extract_hostile(blob: bytes, name: str, check_accepted: Callable[[Path], None]) -> None:
    """Extract ``blob`` as the archive ``name`` (at most 50 members): refused with no destination
    left, or accepted and ``check_accepted(dest)`` holds; never a partial directory left behind and
    nothing written beside the destination."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / name).write_bytes(blob)
        dest = root / "out" / "dest"
        dest.parent.mkdir()
        try:
            extract_archive(root / name, dest, limits=ExtractLimits(max_members=50))
        except (ArchiveError, ConfigError):
            assert not dest.exists()
        else:
            check_accepted(dest)
        assert sorted(p.name for p in (root / "out").iterdir()) in ([], ["dest"])  # no .partial left
        assert sorted(p.name for p in root.iterdir()) == [name, "out"]  # nothing escaped
