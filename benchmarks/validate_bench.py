"""Validation speed against its raw limits, same files, same run.

Figures, not assertions. One embedded cluster seeds the reference dataset and the harness exports
it once (contract version 1, every strict rule at the contract's defaults). Then, per size, in the
same run: the orjson parse of every line of the entity files (the floor any validator pays), the
sha256 of the files, and ``validate_export`` with one and with two worker processes. Each
measurement runs in a fresh child interpreter, so its peak RSS is its own: the validating process
(``RUSAGE_SELF``) and its worker processes (``RUSAGE_CHILDREN``, the largest of them). The load
average is quoted, and ratios are to the orjson floor of the same run (the machine may be shared).

    python benchmarks/validate_bench.py [--rows 100000 1000000] [--repeat 1] [--json FILE]
    python benchmarks/validate_bench.py --export-dir DIR   # time an existing export only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.portable.contract import load_contract

REFERENCE = ROOT / "fixtures" / "contracts" / "reference" / "contract.yaml"
KINDS = ("orjson", "sha256", "validate-1", "validate-2")


def _files(export_dir: Path) -> list[Path]:
    return sorted(export_dir.glob("*.jsonl"))


def measure(kind: str, export_dir: Path, contract_path: Path, scratch: Path) -> dict[str, Any]:
    """One timed measurement in this (fresh) process; its figures as a dict."""
    records, findings = 0, 0
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = own.ru_utime + own.ru_stime
    started = time.perf_counter()
    if kind == "orjson":
        loads = orjson.loads
        for path in _files(export_dir):
            with path.open("rb") as fh:
                for line in fh:
                    loads(line)
                    records += 1
    elif kind == "sha256":
        for path in _files(export_dir):
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
    else:
        from harness.portable.validate.validator import validate_export

        contract = load_contract(contract_path)
        report = validate_export(contract, export_dir, scratch_dir=scratch, workers=int(kind[-1]))
        records, findings = report.records_checked, report.finding_count
    seconds = time.perf_counter() - started
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime - cpu_before,
        "kind": kind,
        "seconds": seconds,
        "records": records,
        "findings": findings,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _in_child(kind: str, export_dir: Path, contract_path: Path, scratch: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", kind, "--export-dir", str(export_dir)]
    command += ["--contract", str(contract_path), "--scratch", str(scratch)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout))


def seed_and_export(rows: int, out: Path) -> Path:
    from harness.dataset.generator import seed_dataset
    from harness.portable.export import SourceInfo, export
    from harness.postgres.database import create_database
    from harness.postgres.embedded import embedded_postgres

    with embedded_postgres() as cluster:
        source = create_database(cluster.database(), "bench_source")
        seed_dataset(source, rows, seed=7)
        return export(source, load_contract(REFERENCE), out, SourceInfo.from_env("bench")).directory


def time_export(export_dir: Path, contract_path: Path, scratch: Path, repeat: int) -> dict[str, Any]:
    """Every measurement ``repeat`` times, interleaved; medians and the load average."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for _ in range(repeat):
        for kind in KINDS:
            runs[kind].append(_in_child(kind, export_dir, contract_path, scratch))
    size = sum(p.stat().st_size for p in _files(export_dir))
    records = runs["validate-1"][0]["records"]
    floor = statistics.median(r["seconds"] for r in runs["orjson"])
    out: dict[str, Any] = {"records": records, "mb": round(size / 2**20, 1), "load_average": os.getloadavg()}
    for kind, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        out[kind] = {
            "seconds": round(seconds, 2),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in results), 2),
            "records_per_second": round(records / seconds),
            "x_orjson": round(seconds / floor, 2),
            "findings": results[0]["findings"],
            "rss_mb": round(max(r["rss_mb"] for r in results)),
            "children_rss_mb": round(max(r["children_rss_mb"] for r in results)),
        }
    return out


def _print(rows: int | None, figures: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.2f}" for x in figures["load_average"])
    head = f"{rows:,} rows" if rows else "export"
    print(
        f"\n{head}: {figures['records']:,} records, {figures['mb']} MB, load average {load}", file=sys.stderr
    )
    header = (
        f"{'stage':<12}{'seconds':>9}{'CPU s':>8}{'rec/s':>11}{'x orjson':>10}{'RSS MB':>8}{'workers MB':>12}"
    )
    print(header, file=sys.stderr)
    for kind in KINDS:
        f = figures[kind]
        line = f"{kind:<12}{f['seconds']:>9.2f}{f['cpu_seconds']:>8.2f}{f['records_per_second']:>11,}"
        line += f"{f['x_orjson']:>10.2f}"
        print(f"{line}{f['rss_mb']:>8}{f['children_rss_mb']:>12}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="dataset sizes")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement (median)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--export-dir", type=Path, help="time this existing export instead of seeding")
    parser.add_argument("--keep", type=Path, help="keep each seeded export under this directory")
    parser.add_argument("--contract", type=Path, default=REFERENCE, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # a child: one measurement, figures on stdout
        scratch = args.scratch or Path(tempfile.gettempdir())
        print(json.dumps(measure(args.measure, args.export_dir, args.contract, scratch)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="validate-bench-"))
    results: dict[str, Any] = {}
    try:
        if args.export_dir:
            figures = time_export(args.export_dir, args.contract, work, args.repeat)
            _print(None, figures)
            results["export"] = figures
        for rows in [] if args.export_dir else args.rows:
            base = args.keep or work
            export_dir = seed_and_export(rows, base / f"export-{rows}")
            figures = time_export(export_dir, args.contract, work, args.repeat)
            _print(rows, figures)
            results[str(rows)] = figures
            if not args.keep:
                shutil.rmtree(export_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
