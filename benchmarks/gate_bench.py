"""Wall time of ``drill gate`` on the gate fixtures vs checkov on the same templates.

checkov is not a dependency: it lives in a throwaway venv (default /tmp/checkov-venv,
created with ``python -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov``).

    python benchmarks/gate_bench.py [--runs 3] [--checkov /tmp/checkov-venv/bin/checkov]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "fixtures" / "gate" / "good"
SPEC = ROOT / "fixtures" / "gate" / "spec.yaml"
TEMPLATES = sorted(GOOD.glob("*.yaml"))
WORKFLOWS = sorted((GOOD / ".github" / "workflows").glob("*.yml"))


def timed(cmd: list[str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc.returncode, proc.stdout[-2000:] + proc.stderr[-2000:]


def series(label: str, cmd: list[str], runs: int) -> dict[str, object]:
    times, code, tail = [], 0, ""
    for _ in range(runs):
        seconds, code, tail = timed(cmd)
        times.append(seconds)
    return {
        "tool": label,
        "command": " ".join(cmd),
        "runs": runs,
        "median_seconds": round(statistics.median(times), 2),
        "min_seconds": round(min(times), 2),
        "exit_code": code,
        "tail": tail.strip().splitlines()[-1:] if tail.strip() else [],
    }


def main() -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkov", default="/tmp/checkov-venv/bin/checkov")
    args = parser.parse_args()
    drill = shutil.which("drill") or sys.exit("drill is not installed (pip install -e .)")
    files = [str(p) for p in TEMPLATES + WORKFLOWS]
    gate = [drill, "gate", "--spec", str(SPEC)]
    results = [
        series("drill gate (templates + workflow; cfn-lint and zizmor included)", [*gate, *files], args.runs),
        series("drill gate (templates only)", [*gate, *map(str, TEMPLATES)], args.runs),
    ]
    if Path(args.checkov).exists():
        checkov = [args.checkov, "--skip-download", "--quiet", "--compact", "--framework"]
        template_args = [a for t in TEMPLATES for a in ("-f", str(t))]
        workflow_args = [a for w in WORKFLOWS for a in ("-f", str(w))]
        only_templates = [*checkov, "cloudformation", *template_args]
        results.append(series("checkov (same templates)", only_templates, args.runs))
        results.append(
            series(
                "checkov (same templates + workflow)",
                [*checkov, "cloudformation", "github_actions", *template_args, *workflow_args],
                args.runs,
            )
        )
    else:
        print(f"checkov not found at {args.checkov}; create the throwaway venv first", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
