"""``pg_dump -Fc`` and ``pg_restore`` with clear errors for files that are not dumps,
truncated dumps and restores that die halfway.

Client tools run as the invoking user with the password in the environment, never on
the command line. A dump is written to a temporary name and renamed into place, so a
file under the final name is always complete.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.clock import utc_iso
from harness.errors import ConfigError, ProviderError, VerificationFailed
from harness.files import sha256_file
from harness.postgres.binaries import pg_free_env
from harness.postgres.database import Database

MAGIC = b"PGDMP"
_FORMATS = {3: "tar format (-Ft)", 5: "directory format (-Fd)"}
_TOC_HEADER = re.compile(r"^;\s+(Dumped from database version|Format|TOC Entries):\s*(.+)$", re.M)
_TOC_CREATED = re.compile(r"^; Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$", re.M)
_TOC_SCHEMA = re.compile(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", re.M)
_TOC_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+)", re.M)


@dataclass(frozen=True)
class DumpInfo:
    path: Path
    size_bytes: int
    sha256: str
    dumped_from: str
    toc_entries: int
    schemas: tuple[str, ...]
    data_tables: tuple[str, ...]
    created_at: datetime | None = None  # from the archive header (whole seconds)
    started_at: datetime | None = None  # when our own pg_dump started (dumps we take)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "size_bytes": self.size_bytes,
            "sha256": f"sha256:{self.sha256}",
            "dumped_from": self.dumped_from,
            "toc_entries": self.toc_entries,
            "tables_with_data": len(self.data_tables),
            "created_at": utc_iso(self.created_at) if self.created_at else None,
            "started_at": utc_iso(self.started_at, micro=True) if self.started_at else None,
            "seconds": round(self.seconds, 3),
        }


def _tool(bindir: Path, name: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(bindir / name), *args], capture_output=True, text=True, env=env, check=False, timeout=7200
        )
    except FileNotFoundError:
        raise ProviderError(f"{name} not found in {bindir}; install the PostgreSQL client tools") from None


def _first_lines(text: str, n: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[:n])


def check_header(path: Path) -> None:
    """Refuse files that cannot be a custom-format dump, with a message saying what they are."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such dump file")
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        raise VerificationFailed(f"{path}: the file is empty, not a pg_dump archive")
    if not head.startswith(MAGIC):
        if head.lstrip().startswith(b"--"):
            raise VerificationFailed(
                f"{path}: a plain-text SQL dump (pg_dump -Fp), not a custom-format archive; "
                "dump with pg_dump -Fc (or restore this one with psql)"
            )
        raise VerificationFailed(f"{path}: not a pg_dump custom-format archive (no PGDMP header)")
    fmt = head[10] if len(head) > 10 else -1
    if fmt != 1:
        kind = _FORMATS.get(fmt, f"an unknown format (byte {fmt})")
        raise VerificationFailed(
            f"{path}: a pg_dump archive, but in {kind}; this drill needs custom format (-Fc)"
        )


def inspect_dump(path: Path, bindir: Path) -> DumpInfo:
    """Header check plus ``pg_restore --list`` (reads the table of contents)."""
    check_header(path)
    # pg_restore --list prints the archive's creation time in local time
    out = _tool(bindir, "pg_restore", ["--list", str(path)], pg_free_env(TZ="UTC"))
    if out.returncode != 0:
        raise _restore_error(path, out.stderr, listing=True)
    header = dict(_TOC_HEADER.findall(out.stdout))
    created = _TOC_CREATED.search(out.stdout)
    return DumpInfo(
        path=path,
        size_bytes=path.stat().st_size,
        sha256=sha256_file(path),
        dumped_from=header.get("Dumped from database version", "unknown"),
        toc_entries=int(header.get("TOC Entries", "0") or 0),
        schemas=tuple(_TOC_SCHEMA.findall(out.stdout)),
        data_tables=tuple(f"{s}.{t}" for s, t in _TOC_DATA.findall(out.stdout)),
        created_at=datetime.strptime(created.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if created
        else None,
    )


def dump(db: Database, bindir: Path, dest: Path, *, schemas: list[str] | None = None) -> DumpInfo:
    """``pg_dump -Fc --no-owner --no-acl`` of ``db`` (only ``schemas`` if given) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    args = ["-Fc", "--no-owner", "--no-acl", "-f", str(tmp)]
    for schema in schemas or []:
        args += ["-n", schema]
    started_at, clock = datetime.now(UTC), time.perf_counter()
    out = _tool(bindir, "pg_dump", args, db.tool_env())
    seconds = time.perf_counter() - clock
    if out.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise ProviderError(f"pg_dump of {db.label} failed: {_first_lines(out.stderr)}")
    os.replace(tmp, dest)
    info = inspect_dump(dest, bindir)
    return DumpInfo(**{**info.__dict__, "started_at": started_at, "seconds": seconds})


def restore(
    db: Database,
    bindir: Path,
    path: Path,
    *,
    create: bool = False,
    jobs: int = 1,
    single_transaction: bool = False,
) -> float:
    """``pg_restore --no-owner --no-acl --exit-on-error`` into ``db`` (with ``--create``: into
    a database the dump creates, connecting to ``db`` first). Returns seconds."""
    args = ["--no-owner", "--no-acl", "--exit-on-error", "-d", db.dbname]
    if create:
        args.append("--create")
    if jobs > 1:
        args += ["-j", str(jobs)]
    if single_transaction:
        args.append("--single-transaction")
    clock = time.perf_counter()
    out = _tool(bindir, "pg_restore", [*args, str(path)], db.tool_env())
    if out.returncode != 0:
        raise _restore_error(path, out.stderr)
    return time.perf_counter() - clock


@dataclass(frozen=True)
class RestoreRun:
    """A timed restore: ``pg_restore`` alone, and from its start to the first answered query."""

    pg_restore_seconds: float
    seconds_to_query: float  # the RTO
    finished_at: datetime  # wall clock when the restored database answered

    def age(self, backup_time: datetime | None) -> float | None:
        """Age of a backup taken at ``backup_time`` when the restore completed (the RPO)."""
        if backup_time is None:
            return None
        return max(0.0, (self.finished_at - backup_time).total_seconds())


def timed_restore(
    connect_to: Database, restored: Database, bindir: Path, path: Path, **kwargs: Any
) -> RestoreRun:
    """:func:`restore` through ``connect_to`` (``kwargs`` as there), then a first query on ``restored``."""
    clock = time.perf_counter()
    seconds = restore(connect_to, bindir, path, **kwargs)
    with restored.connect() as conn:
        conn.execute("SELECT count(*) FROM pg_class")
    return RestoreRun(seconds, time.perf_counter() - clock, datetime.now(UTC))


def restore_measurements(
    objective: Callable[[str, float | None, str], dict[str, Any]],
    run: RestoreRun | None,
    backup_time: datetime | None,
    backup_time_means: str,
) -> dict[str, Any]:
    """``measurements.rto``/``rpo`` of a dump restore, judged by the lane's ``objective``."""
    return {
        "rto": objective(
            "rto",
            run.seconds_to_query if run else None,
            "from starting pg_restore to the restored database answering its first query",
        ),
        "rpo": objective(
            "rpo",
            run.age(backup_time) if run else None,
            f"age of the dump ({backup_time_means}) when the restore completed",
        ),
    }


def _restore_error(path: Path, stderr: str, *, listing: bool = False) -> Exception:
    text = stderr.strip()
    detail = _first_lines(text)
    if "unsupported version" in text:
        return ProviderError(
            f"{path}: written by a newer pg_dump than this pg_restore supports ({detail}); "
            "point DRILL_PG_BINDIR at newer PostgreSQL binaries"
        )
    if "end of file" in text or "could not read from input file" in text:
        return VerificationFailed(f"{path}: the dump is truncated or damaged ({detail})")
    if "did not find magic string" in text or "input file does not appear to be a valid archive" in text:
        return VerificationFailed(f"{path}: not a pg_dump custom-format archive ({detail})")
    if any(
        s in text for s in ("server closed the connection", "connection to server", "terminating connection")
    ):
        return VerificationFailed(
            f"pg_restore lost the server halfway through restoring {path.name}: {detail}"
        )
    what = "pg_restore could not read" if listing else "pg_restore failed on"
    return VerificationFailed(f"{what} {path.name}: {detail}")
