"""Snapshot test fixtures: a real tree (fixture copy plus a FIFO and a hard link), real key files,
real stores, and a real moto server over HTTP for S3 and KMS."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.cli import main
from harness.snapshot.keys import FileKeys, init_keyfile
from harness.snapshot.store_local import DirStore
from tests.conftest import REPO

FIXTURE_TREE = REPO / "fixtures" / "snapshot" / "tree"
CLOCK = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
MTIME_NS = 1_750_000_000_123_456_789


def build_tree(dest: Path) -> Path:
    """A copy of the fixture tree with fixed mtimes, plus a FIFO, a hard link and a mode-0600 file."""
    shutil.copytree(FIXTURE_TREE, dest, symlinks=True)
    os.mkfifo(dest / "data" / "pipe")
    os.link(dest / "config" / "app.yaml", dest / "config" / "zz-hardlink.yaml")
    (dest / "config" / "secret-mode.txt").write_text("private\n")
    (dest / "config" / "secret-mode.txt").chmod(0o600)
    for root, dirs, files in os.walk(dest, topdown=False):
        for name in files + dirs:
            os.utime(Path(root) / name, ns=(MTIME_NS, MTIME_NS), follow_symlinks=False)
    os.utime(dest, ns=(MTIME_NS, MTIME_NS))
    return dest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "tree")


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "snapshot.key"
    init_keyfile(path)
    return path


@pytest.fixture
def keys(keyfile: Path) -> FileKeys:
    return FileKeys(keyfile)


@pytest.fixture
def store(tmp_path: Path) -> DirStore:
    return DirStore(tmp_path / "store")


@pytest.fixture(scope="session")
def moto() -> Iterator[AwsEndpoint]:
    with embedded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def config(tmp_path: Path, keyfile: Path) -> Path:
    """A snapshot config: local store, key file, allowlist = tmp_path/allowed, a retention policy."""
    path = tmp_path / "snapshot.yaml"
    path.write_text(
        "store: {type: local, path: store}\n"
        f"key: {{type: keyfile, path: {keyfile}}}\n"
        "restore: {allow: [allowed]}\n"
        "retention: {keep_last: 2}\n"
        "chunk_size: 4096\n"
    )
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    """``drill`` in-process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def listing(root: Path) -> set[str]:
    """Every path under ``root`` (relative), to prove nothing appeared outside a target."""
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()
