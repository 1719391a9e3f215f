"""``drill snapshot verify``: manifest authenticity, chunk decryption + hash checks, restore smoke test.

Full mode decrypts every chunk and checks every file's whole-content SHA-256. Sample mode
checks ``N`` chunks chosen by ``random.Random(seed)`` over the snapshot's chunk sequence
numbers, so the same seed checks the same chunks on any machine. Both then restore the
covered files into a private temporary directory and compare what landed on disk (bytes by
SHA-256 and size, permission bits, link targets) with the manifest.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import VerificationFailed
from harness.snapshot.catalog import Opened, check_packs, open_snapshot, read_chunk
from harness.snapshot.keys import KeyProvider
from harness.snapshot.restore import MODE_BITS, restore_snapshot
from harness.snapshot.store_base import SnapshotReader, SnapshotStore

MAX_PROBLEMS = 20


@dataclass
class VerifyResult:
    id: str
    mode: str
    seed: int | None
    chunks_total: int = 0
    chunks_checked: int = 0
    files_hashed: int = 0
    bytes_checked: int = 0
    smoke: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    snapshot: dict[str, Any] = field(default_factory=dict)
    sampled: list[int] = field(default_factory=list)  # sample mode: the chunk seqs checked

    def to_dict(self) -> dict[str, Any]:
        sample = {"sampled_seqs": self.sampled} if self.mode == "sample" else {}
        return {
            **sample,
            "id": self.id,
            "mode": self.mode,
            "seed": self.seed,
            "manifest_authenticated": True,
            "chunks_total": self.chunks_total,
            "chunks_checked": self.chunks_checked,
            "files_hashed": self.files_hashed,
            "bytes_checked": self.bytes_checked,
            "restore_smoke": self.smoke,
            "seconds": round(self.seconds, 3),
        }

    def message(self) -> str:
        return (
            f"snapshot {self.id}: manifest authentic; {self.chunks_checked}/{self.chunks_total} chunks "
            f"decrypted and hash-checked ({self.mode}); restore smoke test: {self.smoke.get('files', 0)} "
            "files byte-compared"
        )


def _fail(problems: list[str], what: str) -> VerificationFailed:
    shown = "; ".join(problems[:5]) + (f"; … {len(problems) - 5} more" if len(problems) > 5 else "")
    return VerificationFailed(f"{what}: {len(problems)} problem(s): {shown}")


def _check_chunks(reader: SnapshotReader, opened: Opened, selected: set[int], result: VerifyResult) -> None:
    problems: list[str] = []
    for entry in opened.files():
        whole = hashlib.sha256()
        intact = True
        for index, chunk in enumerate(entry["chunks"]):
            if chunk["seq"] not in selected:
                intact = False
                continue
            try:
                plain = read_chunk(reader, opened, entry, index)
            except VerificationFailed as exc:
                problems.append(str(exc))
                intact = False
                if len(problems) >= MAX_PROBLEMS:
                    raise _fail(problems, f"snapshot {opened.id}") from None
                continue
            whole.update(plain)
            result.chunks_checked += 1
            result.bytes_checked += len(plain)
        if intact:
            if whole.hexdigest() != entry["sha256"]:
                problems.append(f"{entry['path']!r}: whole-file sha256 differs from the manifest")
            result.files_hashed += 1
    if problems:
        raise _fail(problems, f"snapshot {opened.id}")


def _compare_restored(root: Path, opened: Opened, only: set[str]) -> int:
    problems = []
    compared = 0
    for entry in opened.doc["entries"]:
        if entry["path"] not in only:
            continue
        path = root / entry["path"]
        st = os.lstat(path)
        if entry["type"] == "symlink":
            if os.readlink(path) != entry["target"]:
                problems.append(f"{entry['path']!r}: restored link target differs")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        want = entry["sha256"] if entry["type"] == "file" else None
        if want is not None and (digest != want or st.st_size != entry["size"]):
            problems.append(f"{entry['path']!r}: restored bytes differ from the manifest")
        if stat.S_IMODE(st.st_mode) != entry["mode"] & MODE_BITS:
            problems.append(
                f"{entry['path']!r}: restored mode {stat.S_IMODE(st.st_mode):o} != {entry['mode']:o}"
            )
        compared += 1
    if problems:
        raise _fail(problems, f"snapshot {opened.id}: restore smoke test")
    return compared


def verify_snapshot(
    store: SnapshotStore,
    keys: KeyProvider,
    snapshot: str,
    *,
    sample: int | None = None,
    seed: int = 0,
    work_dir: Path | None = None,
) -> VerifyResult:
    """Verify ``snapshot``; raises VerificationFailed naming every problem found (up to 20)."""
    started = time.perf_counter()
    opened = open_snapshot(store, keys, snapshot)
    seqs = sorted(c["seq"] for e in opened.files() for c in e["chunks"])
    result = VerifyResult(snapshot, "full" if sample is None else "sample", None if sample is None else seed)
    result.chunks_total = len(seqs)
    result.snapshot = opened.redacted()
    if sample is None:
        selected = set(seqs)
    else:
        if sample < 1:
            raise VerificationFailed(f"--sample must be at least 1, not {sample}")
        chooser = random.Random(seed)  # noqa: S311 - reproducible sampling, not cryptography
        selected = set(chooser.sample(seqs, min(sample, len(seqs))))
        result.sampled = sorted(selected)
    with store.reader(snapshot) as reader:
        problems = check_packs(reader, opened)
        if problems:
            raise _fail(problems, f"snapshot {snapshot}")
        _check_chunks(reader, opened, selected, result)
        if sample is None:
            kinds = ("file", "symlink", "hardlink")
            only = {e["path"] for e in opened.doc["entries"] if e["type"] in kinds}
        else:
            only = {e["path"] for e in opened.files() if any(c["seq"] in selected for c in e["chunks"])}
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="drill-verify-", dir=work_dir))
        try:
            restored = restore_snapshot(opened, reader, tmp / "tree", [tmp], only=only)
            compared = _compare_restored(tmp / "tree", opened, only)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    result.smoke = {"files": compared, "bytes_written": restored.bytes_written, "passed": True}
    result.seconds = time.perf_counter() - started
    return result
