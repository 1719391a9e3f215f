"""``drill bench`` runs end to end on a small dataset and measures what it says (figures are never
asserted: only that every stage and limit is there, and that the memory readings see real memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.portable import bench_limits
from harness.portable.bench import COMPARED, run_benchmark


def test_bench_compare_reports_every_stage_beside_its_limits(tmp_path: Path) -> None:
    result = run_benchmark(300, work_dir=tmp_path / "bench", compare=True)
    stages = {s["stage"]: s for s in result["stages"]}
    for stage, limits in COMPARED.items():
        assert stage in stages
        present = [name for name in limits if name in stages]
        assert set(stages[stage]["vs"]) == set(present)
    for always in ("raw COPY out (row_to_json)", "raw COPY into jsonb", "orjson parse", "sha256 of files"):
        assert always in stages
    assert result["restored"] == result["records_exported"] == result["identical_dry_run_skipped"]
    assert result["dry_run_zero_writes_proven"]
    assert result["restore_method"].startswith("bulk load")
    assert len(result["load_average"]["before"]) == 3
    assert all(s["peak_rss_mb"] > 0 and s["children_peak_rss_mb"] >= 0 for s in stages.values())
    assert not (tmp_path / "bench").exists()


def test_peak_rss_readings_see_this_process_and_finished_children() -> None:
    if bench_limits.reset_peak_rss():
        before = bench_limits.peak_rss_mb()
        block = bytearray(64 << 20)  # touched: resident
        block[::4096] = b"x" * len(block[::4096])
        assert bench_limits.peak_rss_mb() >= before + 50
        del block
    code = "b = bytearray(160 << 20); b[::4096] = b'y' * len(b[::4096])"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert bench_limits.children_peak_rss_mb() >= 150
