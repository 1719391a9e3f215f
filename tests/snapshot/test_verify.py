"""Verify: a deterministic sample really checks what it samples (and only that); full checks all."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.errors import VerificationFailed
from harness.snapshot.catalog import open_snapshot
from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import FileKeys
from harness.snapshot.store_local import DirStore
from harness.snapshot.verify import verify_snapshot
from tests.snapshot.conftest import CLOCK, listing


def _seed(seqs: list[int], want: object) -> int:
    """The first seed whose documented sample (random.Random(seed).sample(seqs, 3)) satisfies ``want``."""
    return next(s for s in range(1000) if want(set(random.Random(s).sample(seqs, 3))))  # type: ignore[operator]


def test_sample_is_deterministic_and_checks_exactly_its_chunks(
    tree: Path, tmp_path: Path, store: DirStore, keys: FileKeys
) -> None:
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=1024).id
    opened = open_snapshot(store, keys, snap)
    seqs = sorted(c["seq"] for e in opened.files() for c in e["chunks"])
    work = tmp_path / "work"

    def verify(seed: int | None) -> list[int]:
        sample = None if seed is None else 3
        result = verify_snapshot(store, keys, snap, sample=sample, seed=seed or 0, work_dir=work)
        assert result.chunks_checked == (3 if sample else len(seqs)) and listing(work) == set()
        return result.sampled

    first = verify(11)
    assert first == verify(11) == sorted(random.Random(11).sample(seqs, 3))  # as documented
    assert verify(12) != first
    # Damage the one chunk of bin/run.sh: a sample that covers it fails naming it, a sample that
    # touches no chunk of that file passes, and a full verify fails.
    [victim] = next(e for e in opened.files() if e["path"] == "bin/run.sh")["chunks"]
    pack = store.root / snap / opened.doc["packs"][victim["pack"]]["name"]
    data = bytearray(pack.read_bytes())
    data[victim["offset"] + 3] ^= 0x40
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    covering = _seed(seqs, lambda s: victim["seq"] in s)
    with pytest.raises(VerificationFailed, match=r"chunk 0 of 'bin/run\.sh'.*failed authentication"):
        verify(covering)
    assert victim["seq"] not in verify(_seed(seqs, lambda s: victim["seq"] not in s))
    with pytest.raises(VerificationFailed, match=r"chunk 0 of 'bin/run\.sh'"):
        verify(None)
    assert listing(work) == set()


def test_sample_must_be_positive(tree: Path, tmp_path: Path, store: DirStore, keys: FileKeys) -> None:
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK).id
    with pytest.raises(VerificationFailed, match="--sample must be at least 1"):
        verify_snapshot(store, keys, snap, sample=0, work_dir=tmp_path / "w")
