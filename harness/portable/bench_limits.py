"""The raw limits ``drill bench --compare`` sets beside each stage, and the memory it reports.

Each limit does the least work that stage cannot avoid, on the same data in the same run: COPY
out and COPY into ``jsonb`` (the database's floor for export and import), an orjson parse and a
SHA-256 of the export's files (the reader's floor), and the compressors as other tools run them
(``gzip -6``, ``pigz -p 2``, ``zstd -3 -T2`` where installed, plus zlib level 6 in this process:
the archiver's old encoder). Memory: the harness's own peak per stage (the kernel's high-water
mark, reset before each stage where Linux allows it) and the largest peak of any finished child
process (validation workers, command-line tools), which only grows.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import tarfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from harness.portable.contract import Contract
from harness.postgres.database import Database

_CHUNK = 1 << 20


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """This process's peak RSS since the last reset (or since it started)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The largest peak RSS of any child process that has finished (validation workers, tools)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def raw_copy_out(db: Database, contract: Contract) -> int:
    """``COPY (SELECT row_to_json(t) FROM table t) TO STDOUT`` of every entity; rows."""
    rows = 0
    with db.connect() as conn, conn.cursor() as cur:
        for ent in contract.entities:
            with cur.copy(f"COPY (SELECT row_to_json(t) FROM {ent.table} t) TO STDOUT") as copy:
                for _ in copy:
                    rows += 1
    return rows


def raw_copy_in(db: Database, contract: Contract, export_dir: Path) -> int:
    """Every entity file COPYed into a temporary ``jsonb`` table (nothing else); bytes sent."""
    sent = 0
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_stage (doc jsonb NOT NULL) ON COMMIT DROP")
        for ent in contract.entities:
            with (
                (export_dir / ent.file).open("rb") as fh,
                cur.copy("COPY bench_stage (doc) FROM STDIN") as copy,
            ):
                while chunk := fh.read(_CHUNK):
                    copy.write(chunk.replace(b"\\", b"\\\\"))
                    sent += len(chunk)
            cur.execute("TRUNCATE bench_stage")
        conn.rollback()
    return sent


def orjson_parse(export_dir: Path, contract: Contract) -> int:
    """Every line of every entity file parsed with orjson (one process); records."""
    loads, records = orjson.loads, 0
    for ent in contract.entities:
        with (export_dir / ent.file).open("rb") as fh:
            for line in fh:
                loads(line)
                records += 1
    return records


def sha256_files(export_dir: Path) -> int:
    """SHA-256 of every file of the export; bytes hashed."""
    total = 0
    for path in sorted(export_dir.iterdir()):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                total += len(chunk)
    return total


def plain_tar(export_dir: Path, dest: Path) -> Path:
    """An uncompressed tar of the export, the input of the compressor limits."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(export_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return dest


def zlib6(path: Path) -> int:
    """zlib level 6 over the file in this process (the archiver's encoder before ISA-L); bytes out."""
    packer, out = zlib.compressobj(6, zlib.DEFLATED, 31), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            out += len(packer.compress(chunk))
    return out + len(packer.flush())


#: Compressor command lines, run where the tool is installed: (label, argv before the file).
TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gzip -6", ("gzip", "-6", "-c")),
    ("pigz -6 -p 2", ("pigz", "-6", "-p", "2", "-c")),
    ("zstd -3 -T2", ("zstd", "-3", "-T2", "-q", "-c")),
    ("gzip -dc", ("gzip", "-dc")),
    ("zstd -dc", ("zstd", "-dc", "-q")),
)


def tool(label: str) -> Callable[[Path], float] | None:
    """A runner timing ``label``'s tool over a file (output discarded), or None if not installed."""
    argv = dict(TOOLS)[label]
    if shutil.which(argv[0]) is None:
        return None

    def run(path: Path) -> float:
        started = time.perf_counter()
        subprocess.run([*argv, str(path)], stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - started

    return run


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def server_settings(db: Database) -> dict[str, Any]:
    """The settings a reader of the figures needs (the embedded cluster's durability is off)."""
    names = ("wal_level", "fsync", "shared_buffers", "max_wal_size")
    with db.connect(autocommit=True) as conn:
        rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(names)])
        return dict(rows.fetchall())
