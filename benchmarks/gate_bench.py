"""Wall time of ``drill gate`` against checkov on the same files, side by side, in one run.

The files: the gate fixtures' CloudFormation/SAM templates, the deploy workflow and the
Terraform module set. Each tool runs ``--runs`` times, interleaved (gate, checkov, gate,
…) so both see the same machine load; the load average is printed with the ratios.

* ``gate cold``  — an empty cache directory every run: cfn-lint is imported and run.
* ``gate warm``  — the cache primed (templates unchanged since the last run: the common PR
  where a workflow or one template changed); every gate rule still runs, only cfn-lint's
  findings and the action database sliver come from the cache.
* ``checkov``    — its own throwaway venv (not a dependency: it pins boto3 1.35),
  ``python -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov``.
* floors         — ``python -c pass`` and ``checkov --version``: the start-up neither can avoid.

    python benchmarks/gate_bench.py [--runs 5] [--checkov /tmp/checkov-venv/bin/checkov]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "fixtures" / "gate" / "good"
SPEC = ROOT / "fixtures" / "gate" / "spec.yaml"
TEMPLATES = sorted(GOOD.glob("*.yaml"))
WORKFLOWS = sorted((GOOD / ".github" / "workflows").glob("*.yml"))
TERRAFORM = ROOT / "fixtures" / "gate" / "terraform" / "good"


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    return time.perf_counter() - started, proc.returncode


def main() -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkov", default="/tmp/checkov-venv/bin/checkov")
    args = parser.parse_args()
    files = [*map(str, TEMPLATES), *map(str, WORKFLOWS), str(TERRAFORM)]
    # the interpreter itself, not a version-manager shim: the same footing as checkov's venv script
    gate = [sys.executable, "-m", "harness.cli", "gate", "--spec", str(SPEC), *files]
    checkov = [args.checkov, "--skip-download", "--quiet", "--compact"]
    checkov += ["--framework", "cloudformation", "github_actions", "terraform"]
    checkov += [a for f in [*TEMPLATES, *WORKFLOWS] for a in ("-f", str(f))] + ["-d", str(TERRAFORM)]
    have_checkov = Path(args.checkov).exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    series: dict[str, list[float]] = {"gate cold": [], "gate warm": [], "checkov": [], "python floor": []}
    series["checkov floor"] = []
    codes: dict[str, int] = {}
    warm_dir = tempfile.mkdtemp(prefix="gate-cache-")
    timed(gate, {**env, "DRILL_GATE_CACHE": warm_dir})  # prime the warm cache
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="gate-cold-") as cold:
            seconds, codes["gate cold"] = timed(gate, {**env, "DRILL_GATE_CACHE": cold})
        series["gate cold"].append(seconds)
        seconds, codes["gate warm"] = timed(gate, {**env, "DRILL_GATE_CACHE": warm_dir})
        series["gate warm"].append(seconds)
        series["python floor"].append(timed([sys.executable, "-c", "pass"])[0])
        if have_checkov:
            seconds, codes["checkov"] = timed(checkov)
            series["checkov"].append(seconds)
            series["checkov floor"].append(timed([args.checkov, "--version"])[0])
    medians = {k: round(statistics.median(v), 3) for k, v in series.items() if v}
    report: dict[str, object] = {
        "files": [str(Path(f).relative_to(ROOT)) for f in files],
        "runs": args.runs,
        "median_seconds": medians,
        "exit_codes": codes,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if have_checkov:
        report["ratio_to_checkov"] = {
            "gate cold": round(medians["gate cold"] / medians["checkov"], 2),
            "gate warm": round(medians["gate warm"] / medians["checkov"], 2),
        }
    else:
        print(f"checkov not found at {args.checkov}; only the gate and the start-up floor", file=sys.stderr)
        report["ratio_to_python_floor"] = {
            "gate cold": round(medians["gate cold"] / medians["python floor"], 1)
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
