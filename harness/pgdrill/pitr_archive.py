"""The ``pitr-archive`` lane: point-in-time recovery from a backup the harness did not make.

A pgBackRest repository (restored by pgBackRest itself) or a plain base backup plus a WAL archive
(directory or ``s3://``), read-only: the newest usable backup is located, judged for freshness,
restored with server binaries of its own major into a scratch data directory (the backup's own
configuration replaced, no TCP listener, archiving off), its WAL archive checked for gaps, recovered
to the target time (or the end of the archive) and promoted. A heartbeat in the restored data
measures the RPO; smoke queries check it. With ``options.stand_in`` the harness first builds a
stand-in production (a real stanza with ``archive_command = pgbackrest archive-push``) and then
also proves exactly the rows committed before the target came back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from harness.clock import utc_iso
from harness.dataset.heartbeat import HARNESS_HEARTBEAT, HeartbeatResult, measure_heartbeat
from harness.errors import ConfigError, ProviderError, StepSkipped, VerificationFailed
from harness.lanes.base import Lane, StepSpec
from harness.offsite.freshness import Freshness, freshness
from harness.offsite.keys import is_s3_uri
from harness.pgdrill.base_archive import BaseBackupSource
from harness.pgdrill.options import PitrArchiveOptions
from harness.pgdrill.pgbackrest import PgBackRestSource
from harness.pgdrill.pitr_sources import first_gap, open_source
from harness.pgdrill.standin import MARKS, STAND_IN_DB, StandIn, full_backup, pgbackrest_stand_in
from harness.postgres.binaries import bindir_for_major, pg_free_env
from harness.postgres.foreign import ForeignCluster, data_major, foreign_cluster
from harness.postgres.process import run_tool
from harness.postgres.recovery import format_target, target_settings
from harness.scenario import HeartbeatSpec
from harness.smoke import SmokeResult, judged, smoke_without_source


class PitrArchiveLane(Lane):
    steps: ClassVar = (
        StepSpec("stand-in"),
        StepSpec("locate", needs_when=(("stand-in", "stand-in"),)),
        StepSpec("freshness", needs=("locate",)),
        StepSpec("binaries", needs=("locate",)),
        StepSpec("restore-files", needs=("binaries",)),
        StepSpec("verify-backup", data_proving=True, needs=("restore-files",)),
        StepSpec("wal-archive", needs=("restore-files",)),
        StepSpec("recover", needs=("restore-files",)),
        StepSpec("verify-target", data_proving=True, needs=("recover",)),
        StepSpec("heartbeat", data_proving=True, needs=("recover",)),
        StepSpec("smoke", data_proving=True, needs=("recover",)),
        StepSpec("objectives", needs=("recover",)),
    )
    default_dataset_rows: ClassVar[int] = 2_000

    stand_in: StandIn | None = None
    source: PgBackRestSource | BaseBackupSource
    backup_name: str
    backup_time: datetime  # when the chosen backup completed (pgBackRest) or started (backup_label)
    major: str
    bindir: Path
    restored: ForeignCluster
    fresh: Freshness
    restore_clock: float
    restore_seconds: float
    rto_seconds: float
    recovered_at: datetime
    heartbeat_result: HeartbeatResult
    smoke_results: list[SmokeResult]
    found: dict[str, Any]
    gap_check: dict[str, Any]
    replayed: list[str]  # WAL files restore_command delivered (from the server log)

    def parse_options(self) -> PitrArchiveOptions:
        return PitrArchiveOptions.parse(self.scenario.options, str(self.scenario.path))

    def has(self, feature: str) -> bool:
        """``stand-in``: a stand-in production is built first; everything else reads what it wrote."""
        return feature == "stand-in" and self.opts.stand_in is not None

    @property
    def target(self) -> datetime | None:
        if self.stand_in is not None:
            return self.stand_in.target
        target: datetime | None = self.opts.target
        return target

    def _source(self) -> PgBackRestSource | BaseBackupSource:
        if not hasattr(self, "source"):
            self.source = open_source(
                self.opts, self.stand_in, self.scenario, self.stack, self.options.aws_provider
            )
        return self.source

    # -- steps ----------------------------------------------------------------------------------
    def step_stand_in(self) -> str:
        spec = self.opts.stand_in
        if spec is None:
            raise StepSkipped("no options.stand_in: the drill reads the repository the scenario names")
        from harness.dataset.generator import seed_dataset
        from harness.pgdrill.standin import write_around_target

        stanza = str((self.opts.pgbackrest or {}).get("stanza", "drill"))
        self.stand_in = s = self.stack.enter_context(
            pgbackrest_stand_in(self.role("source").bindir, stanza=stanza)
        )
        dataset = self.scenario.dataset(self.options, self.default_dataset_rows)
        counts = seed_dataset(s.db, dataset.rows, seed=dataset.seed)
        label = full_backup(s)
        target = write_around_target(s, spec.rows_before_target, spec.rows_after_target)
        retried = (
            f" ({' and '.join(s.retried)} run again with pgBackRest's default db-timeout after a "
            "query timed out)"
            if s.retried
            else ""
        )
        return (
            f"stand-in production: stanza {s.stanza} with archive_command = pgbackrest archive-push, "
            f"{sum(counts.values())} rows, full backup {label}, {spec.rows_before_target} rows and a "
            f"heartbeat before the target {format_target(target)}, {spec.rows_after_target} after"
            f"{retried}"
        )

    def step_locate(self) -> str:
        source = self._source()
        if isinstance(source, PgBackRestSource):
            chosen = source.locate(self.target)
            assert source.repo is not None
            newest = source.repo.newest()
            self.major, self.backup_time = source.major, chosen.stopped
            self.backup_name = f"pgBackRest backup {chosen.label} (stanza {source.backrest.stanza})"
            self.fresh_backup = (
                f"pgBackRest backup {newest.label} (stanza {source.backrest.stanza})",
                newest.stopped,
            )
            count = len(source.repo.backups)
            return (
                f"{count} backup(s) in stanza {source.backrest.stanza}; restoring {chosen.label} "
                f"({chosen.kind}, "
                f"completed {utc_iso(chosen.stopped)}, PostgreSQL {self.major}) to "
                f"{format_target(self.target) if self.target else 'the end of the archive'}"
            )
        if is_s3_uri(source.backup_text):
            self.restore_clock = time.perf_counter()  # an s3:// backup is fetched here: RTO starts
        info = source.locate()
        if self.target is not None and self.target < info.taken_at:
            raise ConfigError(
                f"recovery target {format_target(self.target)} is before the base backup {info.where} "
                f"started ({utc_iso(info.taken_at)}): a backup can only be rolled forward"
            )
        self.major, self.backup_time = info.major, info.taken_at
        self.backup_name = f"base backup {info.where}"
        self.fresh_backup = (self.backup_name, info.taken_at)
        return (
            f"{info.layout} base backup {info.where} (PostgreSQL {info.major or '?'}, started "
            f"{utc_iso(info.taken_at)}, WAL from {info.start_wal}"
            f"{', with backup_manifest' if info.has_manifest else ''})"
        )

    def step_freshness(self) -> str:
        name, when = self.fresh_backup
        self.fresh = freshness(
            name,
            when,
            self.scenario.objectives.max_backup_age_seconds,
            time_means="when the newest backup completed"
            if isinstance(self.source, PgBackRestSource)
            else "START TIME in its backup_label",
        )
        return self.fresh.judge()

    def step_binaries(self) -> str:
        if not self.major:
            raise ProviderError(f"{self.backup_name}: no PG_VERSION; its PostgreSQL major is unknown")
        self.bindir = bindir_for_major(self.major, self.role("target").bindir or self.role("source").bindir)
        return f"the backup is PostgreSQL {self.major}: restoring with the server in {self.bindir}"

    def step_restore_files(self) -> str:
        source = self._source()
        settings: dict[str, str] = {}
        cluster = foreign_cluster(self.bindir, settings, user=self.opts.user)
        self.restored = self.stack.enter_context(cluster)
        if not hasattr(self, "restore_clock"):
            self.restore_clock = time.perf_counter()
        started = time.perf_counter()
        account = self.restored.account
        if isinstance(source, PgBackRestSource):
            source.restore_files(self.restored.data, self.target)
            how = f"pgbackrest restore --set={source.chosen.label if source.chosen else '?'}"
        else:
            source.restore_files(self.restored.data, account)
            source.stage_wal(account)
            how = f"copied the {source.info.layout if source.info else ''} base backup; staged its WAL"
        found = data_major(self.restored.data)
        if found != self.major:
            raise VerificationFailed(f"the restored PG_VERSION says {found}, the backup said {self.major}")
        self.restore_seconds = time.perf_counter() - started
        return f"{how} into {self.restored.data} in {self.restore_seconds:.2f}s (the source untouched)"

    def step_verify_backup(self) -> str:
        if not self.opts.verify_backup:
            raise StepSkipped("options.verify_backup is false")
        source = self.source
        if isinstance(source, PgBackRestSource):
            return source.verify()
        if not (self.restored.data / "backup_manifest").is_file():
            raise StepSkipped("the base backup has no backup_manifest for pg_verifybackup")
        assert source.wal_dir is not None
        args = [str(self.restored.data)]
        if source.info and not (self.restored.data / "pg_wal" / source.info.start_wal).exists():
            args = ["--wal-directory", str(source.wal_dir), *args]
        args = ["--ignore", "pg_wal/archive_status", *args]
        out = run_tool(self.restored, "pg_verifybackup", args, env=pg_free_env())
        if out.returncode != 0:
            detail = "; ".join((out.stderr.strip() or out.stdout.strip()).splitlines()[:5])
            raise VerificationFailed(f"pg_verifybackup rejected the base backup: {detail}")
        return f"pg_verifybackup: {out.stdout.strip() or 'backup successfully verified'}"

    def step_wal_archive(self) -> str:
        self.restored.prepare_data()  # reads pg_control: the segment size
        size = int(self.restored.controls.get("wal_segment_size", 16 * 1024 * 1024))
        start = self._start_wal()
        present = self.source.segments(start[:8])
        gap = first_gap(start, present, size)
        present = [n for n in present if n >= start]
        newest = max(present, default=None)
        self.gap_check = {"start": start, "newest": newest, "segments": len(present), "gap": gap and gap[0]}
        if gap is not None:
            missing, count = gap
            raise VerificationFailed(
                f"WAL segment {missing} is missing from the archive ({count} segment(s) missing between the "
                f"backup's start {start} and the newest archived {newest}): recovery cannot pass it"
            )
        return (
            f"WAL archive continuous from {start} to {newest} ({len(present)} segments on timeline "
            f"{start[:8]})"
        )

    def _start_wal(self) -> str:
        source = self.source
        if isinstance(source, PgBackRestSource):
            assert source.chosen is not None
            return source.chosen.wal_start
        assert source.info is not None
        return source.info.start_wal

    def step_recover(self) -> str:
        if not self.restored.controls:
            self.restored.prepare_data()
        source = self.source
        self.restored.settings.update(
            target_settings(source.restore_command(self.restored.data), self.target)
        )
        self.restored.env.update(source.server_env())
        self.restored.recover(self.opts.timeout_seconds)
        with self.restored.database(self._database()).connect(autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM pg_class")
        self.rto_seconds = time.perf_counter() - self.restore_clock
        self.recovered_at = datetime.now(UTC)
        self.replayed = replayed = self.restored.restored_from_archive()  # the log goes with the cluster
        to = format_target(self.target) if self.target else "the end of the archive"
        return (
            f"recovered to {to} and promoted in {self.rto_seconds:.2f}s from the restore start; "
            f"{len(replayed)} WAL file(s) restored from the archive; answering on a private socket"
        )

    def _database(self) -> str:
        return STAND_IN_DB if self.stand_in is not None else self.opts.database

    def step_verify_target(self) -> str:
        s = self.stand_in
        if s is None:
            raise StepSkipped(
                "no stand-in: which rows a real repository should hold is unknown here (heartbeat and "
                "smoke queries check the restored data)"
            )
        with self.restored.database(STAND_IN_DB).connect() as conn:
            ids = {int(r[0]) for r in conn.execute(f"SELECT id FROM {MARKS}").fetchall()}
        expected = set(range(1, s.rows_before + 1))
        missing, extra = sorted(expected - ids), sorted(ids - expected)
        self.found = {"rows": len(ids), "missing_before_target": missing, "present_after_target": extra}
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} row(s) committed before the target are missing (ids {missing[:5]})"
            )
        if extra:
            problems.append(f"{len(extra)} row(s) committed after the target exist (ids {extra[:5]})")
        if problems:
            raise VerificationFailed("; ".join(problems))
        return (
            f"exactly the {s.rows_before} rows committed before the target exist, none of the "
            f"{s.rows_after} after"
        )

    def _heartbeat_spec(self) -> HeartbeatSpec | None:
        spec = self.scenario.heartbeat
        if spec is None and self.stand_in is not None:
            return HeartbeatSpec(HARNESS_HEARTBEAT.table, HARNESS_HEARTBEAT.column, (), STAND_IN_DB)
        return spec

    def step_heartbeat(self) -> str:
        spec = self._heartbeat_spec()
        if spec is None:
            raise StepSkipped("the scenario names no heartbeat: RPO is reported as a bound (backup age)")
        reference, means = (
            (self.target, "recovery target") if self.target else (self.recovered_at, "drill time (latest)")
        )
        db = self.restored.database(spec.database or self._database())
        self.heartbeat_result = r = measure_heartbeat(db, spec, reference, means)
        return (
            f"newest heartbeat in {spec.table}: {utc_iso(r.newest, micro=True)}; measured RPO "
            f"{r.rpo_seconds:.3f}s before the {means}"
        )

    def step_smoke(self) -> str:
        checks = self.scenario.data.get("smoke") or []
        if not checks:
            raise StepSkipped("the scenario defines no smoke queries")
        self.smoke_results = smoke_without_source(
            self.restored.database(self._database()), checks, str(self.scenario.path)
        )
        return judged(self.smoke_results)

    def _rpo(self) -> tuple[float | None, str]:
        if hasattr(self, "heartbeat_result"):
            r = self.heartbeat_result
            return (
                r.rpo_seconds,
                f"measured: {r.reference_means} minus the newest heartbeat in the restored data",
            )
        if not hasattr(self, "recovered_at"):
            return None, "not measured"
        reference = self.target or self.recovered_at
        bound = max(0.0, (reference - self.backup_time).total_seconds())
        return (
            bound,
            "bound: the recovery target (or drill time) minus the chosen backup's time (no heartbeat)",
        )

    def step_objectives(self) -> str:
        return self.judge_objectives({"rto": self.rto_seconds, "rpo": self._rpo()[0]})

    # -- evidence -------------------------------------------------------------------------------
    def sections(self) -> dict[str, Any]:
        rpo, how = self._rpo()
        rto = getattr(self, "rto_seconds", None)
        measurements: dict[str, Any] = {
            "rto": self.objective(
                "rto", rto, "from the start of the restore (the fetch, for s3://) to the first query"
            ),
            "rpo": {
                **self.objective("rpo", rpo, how),
                "method": "heartbeat" if hasattr(self, "heartbeat_result") else "bound",
            },
        }
        if hasattr(self, "fresh"):
            measurements["freshness"] = self.fresh.to_dict()
        if hasattr(self, "heartbeat_result"):
            measurements["rpo"]["heartbeat"] = self.heartbeat_result.to_dict()
        section: dict[str, Any] = {"target": format_target(self.target) if self.target else "latest"}
        if hasattr(self, "source"):
            section["source"] = self.source.to_dict()
        for name in ("backup_name", "major", "restore_seconds", "found", "gap_check"):
            if hasattr(self, name):
                section[name] = getattr(self, name)
        if hasattr(self, "bindir"):
            section["bindir"] = str(self.bindir)
        if hasattr(self, "restored"):
            section["restored"] = {
                **self.restored.describe(),
                "wal_restored_from_archive": getattr(self, "replayed", []),
            }
        if self.stand_in is not None:
            s = self.stand_in
            section["stand_in"] = {
                "stanza": s.stanza,
                "backups": s.backups,
                "rows_before_target": s.rows_before,
                "rows_after_target": s.rows_after,
            }
        out: dict[str, Any] = {"measurements": measurements, "extra": {"pitr_archive": section}}
        if hasattr(self, "backup_name"):
            out["source"] = {"archive": {"uri": self.backup_name}}
        if hasattr(self, "restored") and self.restored.port:
            out["target"] = {
                "environment": "scratch",
                "database": self.restored.database(self._database()).describe(),
            }
        else:
            out["target"] = {"environment": "scratch"}
        if hasattr(self, "smoke_results"):
            out["smoke"] = [r.to_dict() for r in self.smoke_results]
        return out
