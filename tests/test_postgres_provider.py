"""The embedded provider cleans up after an owner that died without its ``finally`` (SIGKILL)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.postgres.process import DIR_PREFIX, postmaster_alive, sweep_stale_clusters

CHILD = """
import sys, time
from harness.postgres.embedded import embedded_postgres
with embedded_postgres(base_dir=sys.argv[1]) as cluster:
    print(cluster.base, flush=True)
    time.sleep(600)
"""


def test_sweep_stops_and_removes_a_cluster_whose_owner_was_killed() -> None:
    tmp_path = Path(tempfile.mkdtemp(prefix="drill-sweep-"))  # the server account must traverse it
    os.chmod(tmp_path, 0o711)
    try:
        _kill_owner_then_sweep(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _kill_owner_then_sweep(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    base = Path(child.stdout.readline().strip())
    assert base.name.startswith(DIR_PREFIX) and postmaster_alive(base / "data")
    os.kill(child.pid, signal.SIGKILL)  # no finally runs: the server is orphaned
    child.wait()
    assert postmaster_alive(base / "data")

    live = tmp_path / f"{DIR_PREFIX}ours"  # a cluster of a living owner is left alone
    live.mkdir()
    (live / "drill-owner.json").write_text(f'{{"pid": {os.getpid()}}}')

    assert sweep_stale_clusters(tmp_path) == [base]
    deadline = time.monotonic() + 10
    while postmaster_alive(base / "data") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not base.exists() and live.exists()
