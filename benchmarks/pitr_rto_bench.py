"""RTO of a pgBackRest restore beside the harness-made PITR, at the same data size, in one run.

Figures, not assertions. Both sides seed the same reference dataset (``--rows``) into an embedded
PostgreSQL that archives its WAL, take a full backup, commit rows before and after a recorded
target, and are then recovered to that target and timed from the start of the restore to the first
query on the promoted server (the drills' RTO):

* **harness PITR** (``pitr`` lane, local archive): ``pg_basebackup -Fp`` copied into a fresh data
  directory (``shutil.copytree``), ``restore_command = cp``, replay to the target;
* **pgBackRest** (``pitr-archive`` lane): ``pgbackrest restore --set --type=time`` from a posix
  repository (gz-compressed files, every file fsync'd by pgBackRest), ``restore_command =
  pgbackrest archive-get``, replay to the target, the backup's configuration replaced.

    python benchmarks/pitr_rto_bench.py [--rows 50000] [--repeat 3] [--json FILE]

Reports the data size each side restores, the restore (file) time, the recovery (start → promoted)
time and the RTO, the best of ``--repeat`` runs per side, the pgBackRest/harness ratio, and the load
average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dataset.generator import seed_dataset
from harness.dataset.heartbeat import create_heartbeat_table
from harness.pgdrill.pgbackrest import PgBackRest
from harness.pgdrill.pitr_sources import scratch_dir
from harness.pgdrill.standin import full_backup, pgbackrest_stand_in, write_around_target
from harness.postgres.database import create_database
from harness.postgres.foreign import foreign_cluster
from harness.postgres.recovery import (
    archiving_postgres,
    restored_postgres,
    server_now,
    switch_and_archive,
    take_base_backup,
    target_settings,
)


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def harness_pitr(rows: int, repeat: int) -> dict[str, Any]:
    with archiving_postgres() as source:
        db = create_database(source.database(), "bench").with_environment("drill")
        seed_dataset(db, rows, seed=42)
        create_heartbeat_table(db)
        backup = take_base_backup(source)
        with db.connect(autocommit=True) as conn:
            conn.execute("CREATE TABLE marks (id int)")
            conn.execute("INSERT INTO marks SELECT generate_series(1, 20)")
        target = server_now(db)
        with db.connect(autocommit=True) as conn:
            conn.execute("INSERT INTO marks SELECT generate_series(21, 40)")
        switch_and_archive(source, db)
        runs = []
        for _ in range(repeat):
            import contextlib

            with contextlib.ExitStack() as stack:
                started = time.perf_counter()
                cluster = stack.enter_context(restored_postgres(source, backup, target))
                with cluster.database("bench").connect() as conn:
                    conn.execute("SELECT count(*) FROM marks")
                runs.append(time.perf_counter() - started)
        return {"bytes": backup.size_bytes, "rto_seconds": runs, "best_rto_seconds": min(runs)}


def pgbackrest_pitr(rows: int, repeat: int) -> dict[str, Any]:
    import contextlib

    with pgbackrest_stand_in(stanza="bench") as stand_in:
        seed_dataset(stand_in.db, rows, seed=42)
        label = full_backup(stand_in)
        target = write_around_target(stand_in, 20, 20)
        stand_in.cluster.stop()
        info = stand_in.backrest.info()
        backup = next(b for b in info.backups if b.label == label)
        runs, restore_files, recovery = [], [], []
        for _ in range(repeat):
            with contextlib.ExitStack() as stack:
                backrest = PgBackRest(
                    "bench", scratch_dir(stack), config=stand_in.config, account=stand_in.cluster.account
                )
                started = time.perf_counter()
                cluster = stack.enter_context(foreign_cluster(stand_in.cluster.bindir, {}))
                backrest.restore(cluster.data, backup, target)
                copied = time.perf_counter()
                cluster.prepare_data()
                cluster.settings.update(target_settings(backrest.restore_command(cluster.data), target))
                cluster.env.update(backrest.server_env())
                cluster.recover()
                with cluster.database("drill_app").connect() as conn:
                    conn.execute("SELECT count(*) FROM drill_stand_in_marks")
                done = time.perf_counter()
                runs.append(done - started)
                restore_files.append(copied - started)
                recovery.append(done - copied)
        return {
            "bytes": backup.size_bytes,
            "repository_bytes": backup.repo_bytes,
            "restore_files_seconds": restore_files,
            "recovery_seconds": recovery,
            "rto_seconds": runs,
            "best_rto_seconds": min(runs),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="reference dataset rows (default 50000)")
    parser.add_argument("--repeat", type=int, default=3, help="restores per side (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    harness = harness_pitr(args.rows, args.repeat)
    backrest = pgbackrest_pitr(args.rows, args.repeat)
    load_after = os.getloadavg()
    result = {
        "rows": args.rows,
        "harness_pitr": harness,
        "pgbackrest": backrest,
        "ratio_pgbackrest_to_harness": round(backrest["best_rto_seconds"] / harness["best_rto_seconds"], 2),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }
    mb = 1e6
    print(f"reference dataset: {args.rows} rows; best of {args.repeat} restores per side, to a target")
    h, b = harness, backrest
    print(f"harness PITR : {h['bytes'] / mb:7.1f} MB base backup  RTO {h['best_rto_seconds']:6.2f}s")
    print(
        f"pgBackRest   : {b['bytes'] / mb:7.1f} MB ({b['repository_bytes'] / mb:.1f} MB in the repository)  "
        f"RTO {b['best_rto_seconds']:6.2f}s (restore {min(b['restore_files_seconds']):.2f}s + "
        f"recovery {min(b['recovery_seconds']):.2f}s)"
    )
    print(f"ratio pgBackRest / harness: {result['ratio_pgbackrest_to_harness']}x")
    print(f"load average before {result['loadavg_before']}, after {result['loadavg_after']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
