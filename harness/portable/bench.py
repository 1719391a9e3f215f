"""``drill bench``: throughput of each portable-lane stage on an embedded cluster.

Figures, not assertions. The benchmark seeds the reference dataset, then times the exporter,
archiving (gzip and zstd), safe extraction, validation, the dry run against an empty and an
identical target and the restore. ``--compare`` also times, on the same data in the same run,
the raw limit of each stage (``harness.portable.bench_limits``) and prints the ratio beside it:
``limit seconds / stage seconds`` (1.0 = at the limit). Each stage reports the harness's own
peak RSS during it and the largest peak RSS of any finished child process (validation workers,
tools) so far; the 1-minute load average is printed before and after, since the machine may be
shared.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.archive import create_archive, extract_archive
from harness.dataset.generator import seed_dataset
from harness.portable import bench_limits as limits
from harness.portable.contract import load_contract
from harness.portable.dryrun import dry_run
from harness.portable.export import SourceInfo, export
from harness.portable.restore import apply_schema, restore
from harness.portable.validate.validator import validate_export
from harness.postgres.database import create_database
from harness.postgres.embedded import embedded_postgres

REFERENCE_CONTRACT = Path(__file__).resolve().parents[2] / "fixtures/contracts/reference/contract.yaml"

#: Stage -> the limits it is compared with (the first one is shown in the table).
COMPARED: dict[str, tuple[str, ...]] = {
    "export": ("raw COPY out (row_to_json)",),
    "archive (tar.gz)": ("zlib -6 (old encoder)", "pigz -6 -p 2", "gzip -6"),
    "archive (tar.zst)": ("zstd -3 -T2",),
    "extract (tar.gz)": ("gzip -dc",),
    "extract (tar.zst)": ("zstd -dc",),
    "validate": ("orjson parse", "sha256 of files"),
    "dry-run (empty target)": ("raw COPY into jsonb",),
    "restore (empty target)": ("raw COPY into jsonb",),
    "dry-run (identical target)": ("dry-run (empty target)", "export"),
}


class _Run:
    def __init__(self, console: Any) -> None:
        self.console = console
        self.stages: dict[str, dict[str, Any]] = {}

    def timed(
        self,
        stage: str,
        fn: Callable[[], Any],
        *,
        rows: int | Callable[[Any], int] | None = None,
        mb: float | None = None,
    ) -> Any:
        exact = limits.reset_peak_rss()
        started = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - started
        self.record(stage, seconds, rows=rows(value) if callable(rows) else rows, mb=mb)
        self.stages[stage]["peak_rss_mb"] = round(limits.peak_rss_mb())
        self.stages[stage]["peak_rss_exact"] = exact
        return value

    def record(self, stage: str, seconds: float, *, rows: int | None = None, mb: float | None = None) -> None:
        entry: dict[str, Any] = {"stage": stage, "seconds": round(seconds, 3)}
        if rows is not None:
            entry["rows_per_second"] = round(rows / seconds) if seconds else None
        if mb is not None:
            entry["mb_per_second"] = round(mb / seconds, 1) if seconds else None
        entry["peak_rss_mb"] = round(limits.peak_rss_mb())
        entry["children_peak_rss_mb"] = round(limits.children_peak_rss_mb())
        self.stages[stage] = entry
        self.console.log(entry)

    def ratios(self) -> None:
        for stage, names in COMPARED.items():
            entry = self.stages.get(stage)
            if entry is None:
                continue
            entry["vs"] = {
                name: round(self.stages[name]["seconds"] / entry["seconds"], 2)
                for name in names
                if name in self.stages and entry["seconds"]
            }


def run_benchmark(
    rows: int, *, work_dir: Path, contract_path: Path = REFERENCE_CONTRACT, compare: bool = False
) -> dict[str, Any]:
    from rich.console import Console

    console = Console(stderr=True)  # figures on stderr; stdout stays clean for --json
    if not console.is_terminal:
        console = Console(stderr=True, width=170)  # a log file: room for the whole table
    contract = load_contract(contract_path)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    run = _Run(console)
    load_before = limits.load_average()

    with embedded_postgres() as cluster:
        admin = cluster.database()
        source = create_database(admin, "bench_source")
        counts = run.timed("seed (COPY)", lambda: seed_dataset(source, rows, seed=7), rows=rows)
        total = sum(counts.values())
        run.timed(
            "raw COPY out (row_to_json)", lambda: limits.raw_copy_out(source, contract), rows=lambda n: n
        )
        result = run.timed(
            "export",
            lambda: export(source, contract, work_dir / "export", SourceInfo.from_env("bench")),
            rows=lambda r: r.rows,
        )
        exported, export_dir = result.rows, result.directory
        mb = sum(p.stat().st_size for p in export_dir.iterdir()) / 2**20
        if compare:
            run.timed("sha256 of files", lambda: limits.sha256_files(export_dir), mb=mb)
            run.timed("orjson parse", lambda: limits.orjson_parse(export_dir, contract), rows=exported)
            tar = limits.plain_tar(export_dir, work_dir / "plain.tar")
            run.timed("zlib -6 (old encoder)", lambda: limits.zlib6(tar), mb=mb)
            for label in ("gzip -6", "pigz -6 -p 2", "zstd -3 -T2"):
                runner = limits.tool(label)
                if runner is not None:
                    run.record(label, runner(tar), mb=mb)
        gz = run.timed("archive (tar.gz)", lambda: create_archive(export_dir, work_dir / "b.tar.gz"), mb=mb)
        zst = run.timed(
            "archive (tar.zst)", lambda: create_archive(export_dir, work_dir / "b.tar.zst"), mb=mb
        )
        if compare:
            for label, archive in (("gzip -dc", gz.path), ("zstd -dc", zst.path)):
                runner = limits.tool(label)
                if runner is not None:
                    run.record(label, runner(archive), mb=mb)
        extracted = run.timed("extract (tar.gz)", lambda: extract_archive(gz.path, work_dir / "x-gz"), mb=mb)
        run.timed("extract (tar.zst)", lambda: extract_archive(zst.path, work_dir / "x-zst"), mb=mb)
        report = run.timed(
            "validate",
            lambda: validate_export(contract, extracted, scratch_dir=work_dir),
            rows=lambda r: r.records_checked,
        )
        target = create_database(admin, "bench_target").with_environment("scratch")
        apply_schema(target, "reference", Path.cwd())
        if compare:
            run.timed(
                "raw COPY into jsonb", lambda: limits.raw_copy_in(target, contract, extracted), rows=exported
            )
        plan = run.timed(
            "dry-run (empty target)", lambda: dry_run(target, contract, extracted, report), rows=exported
        )
        restored = run.timed(
            "restore (empty target)", lambda: restore(target, contract, extracted, report), rows=exported
        )
        plan2 = run.timed(
            "dry-run (identical target)", lambda: dry_run(target, contract, extracted, report), rows=exported
        )
        settings = limits.server_settings(admin)

    shutil.rmtree(work_dir, ignore_errors=True)
    run.ratios()
    load_after = limits.load_average()
    _print_table(console, run, total, exported, load_before, load_after)
    return {
        "rows_seeded": total,
        "records_exported": exported,
        "export_mb": round(mb, 1),
        "archive_bytes": {"tar.gz": gz.size_bytes, "tar.zst": zst.size_bytes},
        "dry_run_zero_writes_proven": plan.zero_writes_proven and plan2.zero_writes_proven,
        "identical_dry_run_skipped": plan2.total("skipped"),
        "restored": restored.to_dict()["inserted"],
        "restore_method": restored.method,
        "load_average": {"before": load_before, "after": load_after},
        "server_settings": settings,
        "stages": list(run.stages.values()),
    }


def _print_table(
    console: Any, run: _Run, total: int, exported: int, before: list[float], after: list[float]
) -> None:
    from rich.table import Table

    title = (
        f"drill bench: {total:,} seeded rows, {exported:,} exported records; load average {before} -> {after}"
    )
    table = Table(title=title)
    for col in ("stage", "seconds", "rows/s", "MB/s", "vs limit", "peak RSS MB", "children MB"):
        table.add_column(col, justify="left" if col in ("stage", "vs limit") else "right")
    for s in run.stages.values():
        versus = ", ".join(f"{ratio:.2f}x {name}" for name, ratio in s.get("vs", {}).items())
        table.add_row(
            s["stage"],
            f"{s['seconds']:.2f}",
            f"{s['rows_per_second']:,}" if s.get("rows_per_second") else "",
            f"{s['mb_per_second']}" if s.get("mb_per_second") else "",
            versus,
            f"{s['peak_rss_mb']}",
            f"{s['children_peak_rss_mb']}",
        )
    console.print(table)
