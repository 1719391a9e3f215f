"""Snapshot and restore throughput (encryption on) beside ``sha256sum`` and ``tar czf`` on the same tree.

Generates a tree of mixed file sizes under /tmp (default 1 GiB: many small files, a few hundred
medium ones, some large ones; about a third compressible text, the rest random bytes), warms the
page cache with one untimed read, then times in one run:

- ``sha256sum`` over every file (``find -print0 | xargs -0 sha256sum``),
- ``tar czf`` of the tree,
- ``drill snapshot create`` (local directory store, key-file envelope encryption, AES-256-GCM),
- ``drill snapshot verify --full`` (decrypt + hash every chunk + restore smoke test),
- ``drill snapshot restore`` into an empty allowlisted directory,

and deletes everything afterwards. Not a test: figures depend on the machine and its load.

    python benchmarks/snapshot_bench.py [--size-mib 1024] [--seed 1] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.snapshot.catalog import open_snapshot
from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import FileKeys, init_keyfile
from harness.snapshot.restore import restore_snapshot
from harness.snapshot.store_local import DirStore
from harness.snapshot.verify import verify_snapshot

MIB = 2**20


def _content(rng: random.Random, size: int) -> bytes:
    if rng.random() < 0.33:  # compressible, log-like text
        line = (
            f"{rng.randrange(10**9):09d} INFO request served in {rng.randrange(999)} ms path=/api/v1/items\n"
        )
        return (line.encode() * (size // len(line) + 1))[:size]
    return rng.randbytes(size)


def make_tree(root: Path, total: int, seed: int) -> tuple[int, int]:
    """Mixed sizes: ~6% in 1-64 KiB files, ~40% in 256 KiB-4 MiB files, the rest in 16-96 MiB files."""
    rng = random.Random(seed)
    written = files = 0
    plan = [(0.06, 1024, 64 * 1024), (0.40, 256 * 1024, 4 * MIB), (1.0, 16 * MIB, 96 * MIB)]
    for share, low, high in plan:
        while written < total * share:
            size = min(rng.randint(low, high), total - written)
            path = root / f"d{files % 37:02d}" / f"s{files // 37:03d}" / f"f{files:05d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_content(rng, size))
            written += size
            files += 1
    return written, files


def timed(label: str, size: int, func: Callable[[], object]) -> dict[str, object]:
    started = time.perf_counter()
    func()
    seconds = time.perf_counter() - started
    return {"step": label, "seconds": round(seconds, 2), "mib_per_second": round(size / MIB / seconds, 1)}


def sh(cmd: str) -> None:
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="drill-snapbench-", dir="/tmp"))
    try:
        tree = base / "tree"
        size, count = make_tree(tree, args.size_mib * MIB, args.seed)
        q_tree, q_tgz = shlex.quote(str(tree)), shlex.quote(str(base / "tree.tar.gz"))
        sh(f"find {q_tree} -type f -exec cat {{}} + > /dev/null")  # warm the page cache for every contender
        init_keyfile(base / "bench.key")
        keys, store = FileKeys(base / "bench.key"), DirStore(base / "store")
        state: dict[str, str] = {}

        def snapshot() -> None:
            state["id"] = create_snapshot(tree, store, keys, tag="bench").id

        def restore() -> None:
            opened = open_snapshot(store, keys, state["id"])
            with store.reader(state["id"]) as reader:
                restore_snapshot(opened, reader, base / "allowed" / "out", [base / "allowed"])

        results = [
            timed(
                "sha256sum (all files)",
                size,
                lambda: sh(f"find {q_tree} -type f -print0 | xargs -0 sha256sum"),
            ),
            timed("tar czf", size, lambda: sh(f"tar czf {q_tgz} -C {q_tree} .")),
            timed("drill snapshot create (AES-256-GCM, local store)", size, snapshot),
            timed(
                "drill snapshot verify --full",
                size,
                lambda: verify_snapshot(store, keys, state["id"], work_dir=base / "verify"),
            ),
            timed("drill snapshot restore", size, restore),
        ]
        report = {
            "tree": {"bytes": size, "files": count, "path": str(tree)},
            "machine": {"cpus": os.cpu_count(), "note": "shared with other work; page cache warm"},
            "results": results,
        }
        print(json.dumps(report, indent=2))
        for row in results:
            print(f"{row['step']:52} {row['seconds']:>8}s {row['mib_per_second']:>8} MiB/s")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
