"""The ``pitr`` lane: base backup plus archived WAL, recovered to a target time.

An embedded cluster archives every WAL segment; the lane seeds the reference dataset,
takes and verifies a base backup, commits rows before and after a recorded target time,
restores the backup into a fresh data directory that replays the archive up to the
target, and proves that exactly the rows committed before the target exist. RTO is
measured from the start of the restore to the first successful query; RPO is the age of
the base backup at the target (see docs/database-drills.md). With ``options.wal_offsite`` the
base backup and every archived WAL file are shipped to S3 and recovery reads only what comes
back from there (harness/pgdrill/wal_offsite.py).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from harness.clock import utc_iso
from harness.dataset.chain import REFERENCE_CHAIN
from harness.dataset.heartbeat import (
    HARNESS_HEARTBEAT,
    HeartbeatResult,
    create_heartbeat_table,
    measure_heartbeat,
    write_heartbeat,
)
from harness.errors import ConfigError, StepSkipped, VerificationFailed
from harness.lanes.base import Lane, StepSpec
from harness.offsite.settings import OffsiteSettings
from harness.pgdrill.options import PitrOptions
from harness.pgdrill.snapshot import Comparison, Snapshot, compare_tables, take_snapshot
from harness.pgdrill.wal_offsite import Fetched, WalOffsite
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import EmbeddedCluster
from harness.postgres.recovery import (
    BaseBackup,
    RestoredCluster,
    archiving_postgres,
    current_segment,
    format_target,
    preflight,
    restored_postgres,
    segment_size,
    server_now,
    switch_and_archive,
    system_identifier,
    take_base_backup,
    verify_base_backup,
    wal_archive,
)

PITR_DB = "drill_pitr"
MARKS = "drill_pitr_marks"
SCHEMAS = ["public"]


class PitrLane(Lane):
    steps: ClassVar = (
        StepSpec("seed"),
        StepSpec("base-backup", needs=("seed",)),
        StepSpec("verify-backup", data_proving=True, needs=("base-backup",)),
        StepSpec("posture", needs=("seed",)),  # the offsite steps run with options.wal_offsite
        StepSpec("ship-backup", needs=("base-backup",), needs_when=(("offsite", "posture"),)),
        StepSpec("write", needs=("base-backup",)),
        StepSpec("ship-wal", needs=("write",), needs_when=(("offsite", "posture"),)),
        StepSpec("fetch", needs=("write",), needs_when=(("offsite", "ship-backup"), ("offsite", "ship-wal"))),
        StepSpec("restore", needs=("write",), needs_when=(("offsite", "fetch"),)),
        StepSpec("verify-target", data_proving=True, needs=("restore",)),
        StepSpec("objectives", needs=("restore",)),
    )

    source: EmbeddedCluster
    db: Database
    backup: BaseBackup
    backup_check: str
    target: datetime
    target_segment: str
    last_segment: str
    segments: list[str]
    at_target: Snapshot
    restored: RestoredCluster
    recovered: Snapshot
    comparison: Comparison
    rto_seconds: float
    found: dict[str, Any]
    offsite: WalOffsite | None = None
    fetched: Fetched | None = None
    restore_clock: float
    recovery_inputs: tuple[Path, Path]  # (base backup, restore_command directory) recovery read
    replayed: list[str]  # WAL files restore_command delivered (server log)
    heartbeat: HeartbeatResult  # the newest heartbeat the recovery brought back

    default_dataset_rows: ClassVar[int] = 2_000

    def parse_options(self) -> PitrOptions:
        return PitrOptions.parse(
            self.scenario.options, str(self.scenario.path), self.scenario.source_environment
        )

    def _offsite_settings(self) -> OffsiteSettings | None:
        """The validated ``options.wal_offsite`` (None: recovery reads the local archive)."""
        settings: OffsiteSettings | None = self.opts.wal_offsite
        return settings

    def has(self, feature: str) -> bool:
        """``offsite``: base backup and WAL go to S3 and recovery reads only the copy fetched back."""
        return feature == "offsite" and self._offsite_settings() is not None

    def _offsite(self) -> WalOffsite:
        """The offsite session; the step is skipped when the scenario has no ``options.wal_offsite``."""
        settings = self._offsite_settings()
        if settings is None:
            raise StepSkipped("options.wal_offsite is not set; recovery reads the local WAL archive")
        if self.offsite is None:
            self.offsite = WalOffsite(settings, self.stack, self.options.aws_provider)
        return self.offsite

    def _rows(self) -> tuple[int, int]:
        return self.opts.rows_before_target, self.opts.rows_after_target

    # -- steps ----------------------------------------------------------------------------------
    def step_seed(self) -> str:
        offsite = self._offsite_settings()  # every option is checked before any work
        source = self.role("source")
        if source.provider != "embedded":
            raise ConfigError(
                f"{self.scenario.path}: the pitr drill needs a cluster it can archive and restore, "
                "so it runs only on the embedded provider"
            )
        if offsite is not None:  # an endpoint that needs Docker it cannot have skips the drill whole
            self._offsite().session.start()
        from harness.dataset.generator import seed_dataset

        self.source = self.stack.enter_context(archiving_postgres(source.bindir))
        self.db = create_database(self.source.database(), PITR_DB).with_environment("drill")
        dataset = self.scenario.dataset(self.options, self.default_dataset_rows)
        counts = seed_dataset(self.db, dataset.rows, seed=dataset.seed)
        with self.db.connect() as conn:
            conn.execute(
                f"CREATE TABLE {MARKS} (id bigint PRIMARY KEY, phase text NOT NULL, "
                "committed_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            conn.commit()
        create_heartbeat_table(self.db)  # the harness is the application here: it writes the heartbeat
        return f"archiving cluster up; seeded {sum(counts.values())} rows into {PITR_DB}"

    def step_base_backup(self) -> str:
        self.backup = take_base_backup(self.source)
        b = self.backup
        return f"pg_basebackup: {b.size_bytes} bytes in {b.seconds:.2f}s, starting at WAL {b.start_wal}"

    def step_verify_backup(self) -> str:
        if not self.opts.verify_backup:
            raise StepSkipped("options.verify_backup is false")
        self.backup_check = verify_base_backup(self.source, self.backup)
        return f"pg_verifybackup: {self.backup_check}"

    def step_posture(self) -> str:
        return self._offsite().posture(system_identifier(self.db))

    def step_ship_backup(self) -> str:
        return self._offsite().ship_backup(self.backup, self._staging())

    def _staging(self) -> Path:
        """Where gzip'd copies wait for their upload (removed with the source cluster)."""
        return self.source.base / "offsite-staging"

    def _insert(self, ids: range, phase: str) -> None:
        with self.db.connect(autocommit=True) as conn:
            for i in ids:  # one transaction per row: each is its own commit record in the WAL
                conn.execute(f"INSERT INTO {MARKS} (id, phase) VALUES (%s, %s)", (i, phase))

    def step_write(self) -> str:
        before, after = self._rows()
        half = before // 2
        self._insert(range(1, half + 1), "before")
        switch_and_archive(self.source, self.db)  # recovery must fetch WAL past the backup
        self._insert(range(half + 1, before + 1), "before")
        write_heartbeat(self.db)
        self.at_target = take_snapshot(self.db, SCHEMAS, REFERENCE_CHAIN)
        self.target = server_now(self.db)
        self.target_segment = current_segment(self.db)
        time.sleep(0.01)  # every later commit is strictly after the target
        self._insert(range(before + 1, before + after + 1), "after")
        write_heartbeat(self.db)  # after the target: it must not come back
        self.last_segment = switch_and_archive(self.source, self.db)
        return (
            f"{before} rows committed before the target {format_target(self.target)}, {after} after; "
            f"WAL archived through {self.last_segment}"
        )

    def step_ship_wal(self) -> str:
        return self._offsite().ship_wal(wal_archive(self.source), self._staging())

    def step_fetch(self) -> str:
        offsite = self._offsite()
        self.restore_clock = time.perf_counter()  # RTO starts when the offsite copy is fetched
        fresh = self.source.base / f"offsite-fetch-{secrets.token_hex(4)}"  # created by the fetch
        self.fetched = f = offsite.fetch(fresh, self.target, self.source.account)
        verified = ""
        if self.opts.verify_backup:
            verify_base_backup(self.source, replace(self.backup, path=f.backup_dir))
            verified = "; pg_verifybackup passed on the fetched base backup"
        absent = f" (shipped but not in the bucket: {', '.join(f.not_in_bucket)})" if f.not_in_bucket else ""
        return (
            f"fetched the base backup and {len(f.wal)} WAL file(s){absent} into {f.directory}, each "
            f"checksum-verified{verified}"
        )

    def step_restore(self) -> str:
        backup, archive, where = self.backup, wal_archive(self.source), None
        if self.has("offsite"):  # recover from what came back from S3, only (the runner saw fetch pass)
            assert self.fetched is not None
            assert self.offsite is not None
            f = self.fetched  # the fetched backup_label says where the WAL replay starts
            backup, archive = replace(self.backup, path=f.backup_dir, start_wal=f.start_wal), f.wal_dir
            where = f"{self.offsite.uri('wal/')} (fetched into {archive})"
        self.recovery_inputs = (backup.path, archive)
        size = segment_size(self.db)
        self.segments = preflight(
            backup, archive, self.target, target_segment=self.target_segment, size=size, where=where
        )
        clock = self.restore_clock if self.fetched else time.perf_counter()
        timeout = self.opts.recovery_timeout_seconds
        recovery = restored_postgres(
            self.source, backup, self.target, archive=archive, timeout=timeout, move=bool(self.fetched)
        )
        self.restored = self.stack.enter_context(recovery)
        with self.restored.database(PITR_DB).connect() as conn:
            conn.execute(f"SELECT count(*) FROM {MARKS}")
        self.rto_seconds = time.perf_counter() - clock
        self.replayed = self.restored.restored_from_archive()
        source = "the copy fetched from S3" if self.fetched else "the local archive"
        return (
            f"recovered to the target in {self.rto_seconds:.2f}s from the base backup and "
            f"{len(self.segments)} WAL segment(s) ({source}); promoted and answering queries"
        )

    def step_verify_target(self) -> str:
        before, after = self._rows()
        db = self.restored.database(PITR_DB)
        with db.connect() as conn:
            found = {int(r[0]) for r in conn.execute(f"SELECT id FROM {MARKS}").fetchall()}
        expected = set(range(1, before + 1))
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        self.found = {
            "rows": len(found),
            "missing_before_target": missing,
            "present_after_target": unexpected,
        }
        self.recovered = take_snapshot(db, SCHEMAS, REFERENCE_CHAIN)
        self.comparison = compare_tables(self.at_target, self.recovered)
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} row(s) committed before the target are missing (ids {missing[:5]})"
            )
        if unexpected:
            problems.append(
                f"{len(unexpected)} row(s) committed after the target exist (ids {unexpected[:5]})"
            )
        problems += self.comparison.problems()
        try:
            self.heartbeat = measure_heartbeat(db, HARNESS_HEARTBEAT, self.target, "recovery target")
        except VerificationFailed as exc:
            problems.append(str(exc))
        chain, then = self.recovered.chain, self.at_target.chain
        if (
            chain is None
            or then is None
            or not chain.ok
            or chain.head != then.head
            or chain.rows != then.rows
        ):
            problems.append("the audit chain differs from its state at the target")
        if problems:
            raise VerificationFailed("; ".join(problems[:6]))
        return (
            f"exactly the {before} rows committed before the target exist, none of the {after} after; "
            f"{len(self.comparison.tables)} tables equal their state at the target (counts and checksums); "
            f"the newest heartbeat is {self.heartbeat.rpo_seconds:.3f}s before the target (measured RPO)"
        )

    def _rpo(self) -> float | None:
        """Measured by the heartbeat when the recovery got that far, else the bound (backup age)."""
        if hasattr(self, "heartbeat"):
            return self.heartbeat.rpo_seconds
        return self._rpo_bound()

    def _rpo_bound(self) -> float | None:
        if not hasattr(self, "target"):
            return None
        return max(0.0, (self.target - self.backup.started_at).total_seconds())

    def step_objectives(self) -> str:
        return self.judge_objectives({"rto": self.rto_seconds, "rpo": self._rpo()})

    # -- evidence -------------------------------------------------------------------------------
    def _rpo_section(self, rpo: float | None) -> dict[str, Any]:
        if hasattr(self, "heartbeat"):
            definition = "measured: recovery target minus the newest heartbeat found in the recovered data"
            section = self.objective("rpo", rpo, definition)
            return {**section, "method": "heartbeat", "heartbeat": self.heartbeat.to_dict()}
        definition = (
            "bound: age of the base backup at the recovery target (target time minus the server time "
            "at which pg_basebackup started)"
        )
        return {**self.objective("rpo", rpo, definition), "method": "bound"}

    def sections(self) -> dict[str, Any]:
        rto = getattr(self, "rto_seconds", None)
        rpo = self._rpo() if hasattr(self, "backup") else None

        out: dict[str, Any] = {
            "measurements": {
                "rto": self.objective(
                    "rto",
                    rto,
                    "from the start of the restore (copying the base backup; with "
                    "wal_offsite, from the start of the fetch from S3) to the "
                    "first successful query on the recovered, promoted server",
                ),
                "rpo": self._rpo_section(rpo),
            }
        }
        pitr: dict[str, Any] = {}
        if hasattr(self, "backup"):
            pitr["backup"] = {**self.backup.to_dict(), "verified": getattr(self, "backup_check", None)}
        if hasattr(self, "last_segment"):
            before, after = self._rows()
            pitr["target"] = {
                "time": utc_iso(self.target, micro=True),
                "recovery_target_time": format_target(self.target),
                "wal_segment": self.target_segment,
                "rows_before_target": before,
                "rows_after_target": after,
            }
            pitr["archive"] = {"archived_through": self.last_segment}
            pitr["rpo_bound_seconds"] = self._rpo_bound()
            pitr["at_target"] = self.at_target.to_dict()
        if hasattr(self, "segments"):
            pitr["archive"]["segments_replayed"] = len(self.segments)
        if hasattr(self, "rto_seconds"):
            pitr["recovery"] = {
                "seconds_to_first_query": round(self.rto_seconds, 3),
                "source": "offsite" if self.fetched else "local",
                "used_fetched_copy": self.fetched is not None,
                "base_backup": str(self.recovery_inputs[0].resolve()),
                "restore_command_directory": str(self.recovery_inputs[1].resolve()),
                "wal_restored_from_archive": self.replayed,
            }
        if self.offsite is not None:
            pitr["offsite"] = self.offsite.to_dict()
        if hasattr(self, "found"):
            pitr["found"] = self.found
            pitr["recovered"] = self.recovered.to_dict()
            pitr["comparison"] = self.comparison.to_dict()
        out["extra"] = {"pitr": pitr}
        if hasattr(self, "db"):
            out["source"] = {"database": self.db.describe()}
        if hasattr(self, "restored"):
            restored = self.restored.database(PITR_DB).with_environment("scratch")
            out["target"] = {"environment": "scratch", "database": restored.describe()}
        return out
