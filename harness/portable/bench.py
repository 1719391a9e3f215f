"""``drill bench``: throughput of each portable-lane stage on an embedded cluster.

Figures, not assertions: the benchmark seeds the reference dataset, then
times raw ``COPY (SELECT row_to_json(t) FROM t) TO STDOUT`` (the floor any
exporter pays), the exporter, archiving, extraction, validation, the dry run
against an empty scratch target and the restore. Peak RSS is the process
high-water mark after each stage (so a stage that balloons memory shows up).
"""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from harness.archive import create_archive, extract_archive
from harness.dataset.generator import seed_dataset
from harness.portable.contract import load_contract
from harness.portable.dryrun import dry_run
from harness.portable.export import SourceInfo, export
from harness.portable.restore import apply_schema, restore
from harness.portable.validate.validator import validate_export
from harness.postgres.database import create_database
from harness.postgres.embedded import embedded_postgres

T = TypeVar("T")
REFERENCE_CONTRACT = Path(__file__).resolve().parents[2] / "fixtures/contracts/reference/contract.yaml"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def run_benchmark(rows: int, *, work_dir: Path, contract_path: Path = REFERENCE_CONTRACT) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)  # figures on stderr; stdout stays clean for --json
    contract = load_contract(contract_path)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    stages: list[dict[str, Any]] = []

    def record(stage: str, seconds: float, *, rows_done: int | None = None, mb: float | None = None) -> None:
        entry: dict[str, Any] = {
            "stage": stage,
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(_peak_rss_mb()),
        }
        if rows_done is not None:
            entry["rows_per_second"] = round(rows_done / seconds) if seconds else None
        if mb is not None:
            entry["mb_per_second"] = round(mb / seconds, 1) if seconds else None
        stages.append(entry)
        console.log(entry)

    with embedded_postgres() as cluster:
        admin = cluster.database()
        source = create_database(admin, "bench_source")
        counts, secs = _timed(lambda: seed_dataset(source, rows, seed=7))
        total = sum(counts.values())
        record("seed (COPY)", secs, rows_done=total)

        exported_rows = 0

        def raw_copy() -> int:
            n = 0
            with source.connect() as conn, conn.cursor() as cur:
                for ent in contract.entities:
                    query = f"COPY (SELECT row_to_json(t) FROM {ent.table} t) TO STDOUT"
                    with cur.copy(query) as copy:
                        for _chunk in copy:
                            n += 1
            return n

        raw_rows, secs = _timed(raw_copy)
        record("raw COPY row_to_json", secs, rows_done=raw_rows)

        result, secs = _timed(
            lambda: export(source, contract, work_dir / "export", SourceInfo.from_env("bench"))
        )
        exported_rows = result.rows
        record("export", secs, rows_done=exported_rows)

        info, secs = _timed(lambda: create_archive(result.directory, work_dir / "bench.tar.gz"))
        record("archive (tar.gz)", secs, mb=info.uncompressed_bytes / 2**20)

        extracted, secs = _timed(lambda: extract_archive(info.path, work_dir / "extracted"))
        record("extract (safe)", secs, mb=info.uncompressed_bytes / 2**20)

        report, secs = _timed(lambda: validate_export(contract, extracted, scratch_dir=work_dir))
        record("validate", secs, rows_done=report.records_checked)

        target = create_database(admin, "bench_target").with_environment("scratch")
        apply_schema(target, "reference", Path.cwd())
        plan, secs = _timed(lambda: dry_run(target, contract, extracted, report))
        record("dry-run (empty target)", secs, rows_done=exported_rows)

        restored, secs = _timed(lambda: restore(target, contract, extracted, report))
        record("restore", secs, rows_done=exported_rows)

        plan2, secs = _timed(lambda: dry_run(target, contract, extracted, report))
        record("dry-run (identical target)", secs, rows_done=exported_rows)

    shutil.rmtree(work_dir, ignore_errors=True)
    table = Table(title=f"drill bench: {total:,} seeded rows, {exported_rows:,} exported records")
    for col in ("stage", "seconds", "rows/s", "MB/s", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in stages:
        table.add_row(
            s["stage"],
            f"{s['seconds']:.2f}",
            f"{s.get('rows_per_second') or '':,}" if s.get("rows_per_second") else "",
            f"{s['mb_per_second']}" if s.get("mb_per_second") else "",
            f"{s['peak_rss_mb']}",
        )
    console.print(table)
    return {
        "rows_seeded": total,
        "records_exported": exported_rows,
        "archive_bytes": info.size_bytes,
        "uncompressed_bytes": info.uncompressed_bytes,
        "dry_run_zero_writes_proven": plan.zero_writes_proven and plan2.zero_writes_proven,
        "restored": restored.to_dict()["inserted"],
        "stages": stages,
    }
