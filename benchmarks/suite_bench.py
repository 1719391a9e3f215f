"""Wall time and CPU time of a command's whole process tree, PostgreSQL servers included.

Figures, not assertions. ``drill run`` starts servers with ``pg_ctl``, which detaches them, so
``time`` never sees their CPU. This script makes itself a child subreaper (Linux
``PR_SET_CHILD_SUBREAPER``): orphaned descendants are re-parented to it, and once it has reaped
them all ``RUSAGE_CHILDREN`` holds the CPU time of every process the command started. On a
shared machine the wall time swings with the load; the CPU time hardly does, so compare that.

    python benchmarks/suite_bench.py [--repeat 3] [--json FILE] -- drill run scenarios/weekly

Each repetition prints ``wall``, ``cpu`` (user + system of the tree), the tree's largest peak
RSS and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def measure(command: list[str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = _load()
    started = time.perf_counter()
    code = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    ).returncode
    wall = time.perf_counter() - started
    deadline = time.monotonic() + 60  # servers the command stopped may still be exiting
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break  # every descendant reaped
        if pid == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "exit_code": code,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "peak_rss_mb_largest_process": round(after.ru_maxrss / 1024),
        "load_before": load_before,
        "load_after": _load(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --: the command to measure")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --")
    _subreaper()
    runs = []
    for _ in range(args.repeat):
        run = measure(command)
        runs.append(run)
        print(json.dumps(run), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "runs": runs}, indent=2) + "\n")
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
