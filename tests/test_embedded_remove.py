"""A stopped embedded cluster's directory leaves its place at once and is deleted by a detached
``rm -rf`` (harness/postgres/process.py ``remove_tree``, also for the template at exit); one whose
owner died before the deletion finished is swept like any stale cluster."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from harness.postgres.embedded import embedded_postgres
from harness.postgres.process import OWNER_FILE, sweep_stale_clusters


def _gone(path: Path, limit: float = 120) -> bool:
    deadline = time.monotonic() + limit
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_stopped_clusters_directory_leaves_at_once_and_is_deleted_in_the_background(base_dir: Path) -> None:
    with embedded_postgres(base_dir=base_dir) as cluster:
        base = cluster.base
        with cluster.database().connect(autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int)")
    assert not base.exists() and list(base_dir.iterdir()) == []
    aside = Path(tempfile.gettempdir()) / f"{base.name}-removed"
    assert _gone(aside)  # the detached rm -rf finished


def test_a_cluster_removed_without_detaching_is_gone_on_return(base_dir: Path) -> None:
    with embedded_postgres(base_dir=base_dir) as cluster:
        cluster.stop(discard=True)
        cluster.remove()
        assert not cluster.base.exists()
        assert not (Path(tempfile.gettempdir()) / f"{cluster.base.name}-removed").exists()


def test_a_directory_set_aside_by_a_process_that_died_is_swept(tmp_path: Path) -> None:
    aside = Path(tempfile.mkdtemp(prefix="drill-pg-", suffix="-removed", dir=tmp_path))
    (aside / "data").mkdir()
    never_alive = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    (aside / OWNER_FILE).write_text(json.dumps({"pid": never_alive, "started": 0}))
    try:
        assert aside in sweep_stale_clusters(tmp_path)
        assert not aside.exists()
    finally:
        shutil.rmtree(aside, ignore_errors=True)
