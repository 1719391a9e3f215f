"""Timings of the pg-roundtrip drill's stages beside raw ``pg_dump -Fc`` / ``pg_restore``.

Figures, not assertions. One embedded cluster: the drill lane runs step by step on the
reference dataset, and between its steps the raw tools run on the same data, so both
sets of figures come from the same run on the same machine. The dataset is sized so that
audit_events has ``--audit-rows`` rows (default 1,000,000; the audit table is 20 % of the
dataset, so 5,000,000 rows in all).

    python benchmarks/pg_bench.py [--audit-rows 1000000] [--json FILE]

Drill stages timed: ``dump`` (pg_dump -Fc --no-owner --no-acl -n public, then
pg_restore --list and a sha256 of the file), ``restore`` (sha256 re-check, pg_restore
--exit-on-error, first query), ``checksum`` (row counts and content checksums of every
table, one pass each) and ``chain`` (the in-database verifier over audit_events). Peak RSS
is reported for this process (the harness: it never pulls rows into Python) and for the
largest PostgreSQL server process. (Not for pg_dump/pg_restore: a child's ru_maxrss on
Linux includes the parent's image it was forked from, so it would only repeat the first.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dataset.generator import plan_counts
from harness.evidence import Evidence
from harness.pgdrill.roundtrip import RoundTripLane
from harness.postgres.database import create_database
from harness.scenario import RunOptions, load_scenario


def raw(bindir: Path, tool: str, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(bindir / tool), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().splitlines()[0])


def server_peak_rss_kib(postmaster: int) -> int:
    """Largest VmHWM (peak resident set) among the postmaster and its children, in KiB."""
    peak = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(entry) == postmaster or fields.get("PPid", "").strip() == str(postmaster):
            peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]))
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--audit-rows", type=int, default=1_000_000, help="audit_events rows (default 1,000,000)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    dataset_rows = args.audit_rows * 5  # audit_events are 20 % of the reference dataset
    print(
        f"seeding {dataset_rows:,} rows ({plan_counts(dataset_rows)['audit_events']:,} audit_events)…",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    scenario_path = work / "scenarios" / "pg-bench.yaml"
    scenario_path.parent.mkdir(parents=True)
    scenario_path.write_text(
        yaml.safe_dump(
            {
                "scenario_version": 1,
                "name": "pg-bench",
                "lane": "pg-roundtrip",
                "source": {"dataset": {"rows": dataset_rows, "seed": 42}},
            }
        )
    )
    scenario = load_scenario(scenario_path)
    evidence = Evidence(scenario=scenario.describe())
    for spec in RoundTripLane.steps:
        evidence.add_step(spec.name, data_proving=spec.data_proving)
    lane = RoundTripLane(scenario, RunOptions(work_dir=work / "work"), evidence)

    def step(name: str) -> float:
        with evidence.timed(name) as record:
            record.message, record.status = lane.runner(name)(), "passed"
        print(f"  {name}: {record.seconds:.1f}s — {record.message}", flush=True)
        return record.seconds

    figures: dict[str, Any] = {}
    try:
        figures["seed_seconds"] = step("workload")
        step("pre-snapshot")
        bindir, env = lane.cluster().bindir, lane.db.tool_env()
        raw_dump = work / "raw.dump"
        figures["raw_pg_dump_seconds"] = raw(
            bindir, "pg_dump", ["-Fc", "--no-owner", "--no-acl", "-n", "public", "-f", str(raw_dump)], env
        )
        print(f"  raw pg_dump -Fc: {figures['raw_pg_dump_seconds']:.1f}s", flush=True)
        figures["drill_dump_seconds"] = step("dump")
        target = create_database(lane.cluster().database(), "raw_restore")
        with target.connect(autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
        restore_args = ["--no-owner", "--no-acl", "--exit-on-error", "-d", target.dbname, str(raw_dump)]
        figures["raw_pg_restore_seconds"] = raw(bindir, "pg_restore", restore_args, target.tool_env())
        print(f"  raw pg_restore: {figures['raw_pg_restore_seconds']:.1f}s", flush=True)
        with lane.cluster().database().connect(autocommit=True) as conn:
            conn.execute("DROP DATABASE raw_restore")
        raw_dump.unlink()
        step("simulate-loss")
        figures["drill_restore_seconds"] = step("restore")
        step("post-snapshot")
        for name in ("compare-tables", "verify-chain", "canary"):
            step(name)
        pre, post = lane.pre, lane.post
        total = sum(t.rows for t in pre.tables.values())
        figures.update(
            rows=total,
            audit_rows=pre.row_count,
            dump_bytes=lane.dump_info.size_bytes,
            checksum_seconds_pre=pre.checksum_seconds,
            checksum_seconds_post=post.checksum_seconds,
            audit_checksum_seconds_pre=pre.table_seconds["public.audit_events"],
            audit_checksum_seconds_post=post.table_seconds["public.audit_events"],
            chain_seconds_pre=pre.chain_seconds,
            chain_seconds_post=post.chain_seconds,
            server_peak_rss_mib=round(server_peak_rss_kib(postmaster_pid(lane.cluster().data)) / 1024, 1),
        )
    finally:
        lane.close("verified")
        shutil.rmtree(work, ignore_errors=True)
    figures["harness_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    rows, audit = figures["rows"], figures["audit_rows"]
    lines = [
        f"pg-roundtrip benchmark: {rows:,} rows ({audit:,} audit_events), "
        f"dump {figures['dump_bytes'] / 1e6:.0f} MB",
        f"{'stage':38} {'seconds':>8} {'rows/s':>12}",
    ]

    def line(label: str, seconds: float, count: int) -> None:
        lines.append(f"{label:38} {seconds:8.2f} {count / seconds:12,.0f}")

    line("raw pg_dump -Fc", figures["raw_pg_dump_seconds"], rows)
    line("drill dump step", figures["drill_dump_seconds"], rows)
    line("raw pg_restore", figures["raw_pg_restore_seconds"], rows)
    line("drill restore step", figures["drill_restore_seconds"], rows)
    line("content checksums, all tables (pre)", figures["checksum_seconds_pre"], rows)
    line("content checksums, all tables (post)", figures["checksum_seconds_post"], rows)
    line("content checksum, audit_events (pre)", figures["audit_checksum_seconds_pre"], audit)
    line("content checksum, audit_events (post)", figures["audit_checksum_seconds_post"], audit)
    line("chain verification (pre)", figures["chain_seconds_pre"], audit)
    line("chain verification (post)", figures["chain_seconds_post"], audit)
    lines.append(
        f"peak RSS: harness {figures['harness_peak_rss_mib']:,.0f} MiB, "
        f"largest server process {figures['server_peak_rss_mib']:,.0f} MiB"
    )
    lines.append(f"(seeding the dataset took {figures['seed_seconds']:.1f}s)")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
