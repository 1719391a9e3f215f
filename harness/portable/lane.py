"""Portable export lane: export → archive → [posture → upload → fetch] → extract → validate → dry-run →
restore → smoke → compare. The bracketed offsite steps run when the scenario has ``options.offsite``
(harness/offsite); without it they are skipped and the local archive is extracted."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from harness.archive import ArchiveInfo, create_archive, extract_archive
from harness.errors import ArchiveError, ConfigError, RefusedError, StepSkipped, VerificationFailed
from harness.files import sha256_file
from harness.lanes.base import Lane, StepSpec
from harness.offsite.session import OffsiteSession
from harness.offsite.settings import OffsiteSettings
from harness.portable.compare import compare_exports, compare_manifests
from harness.portable.contract import Contract, load_contract
from harness.portable.dryrun import DryRunResult, dry_run
from harness.portable.export import ExportResult, SourceInfo, export
from harness.portable.options import PortableOptions, parse_options
from harness.portable.restore import PRODUCTION, RestoreResult, apply_schema, declared_environment, restore
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database, create_database
from harness.registry import load
from harness.scenario import RunOptions, Scenario
from harness.smoke import SmokeResult, run_smoke

#: The manifest fields the evidence repeats under ``source.manifest``.
MANIFEST_EVIDENCE_KEYS = (
    "generated_at",
    "schema_version",
    "export_format_version",
    "app_git_sha",
    "source_environment",
    "entity_counts",
    "checksums",
    "redactions",
    "omitted_entities",
)
SOURCE_DB = "drill_source"
TARGET_DB = "drill_scratch"


class PortableExportLane(Lane):
    accepts_archive: ClassVar[bool] = True
    steps: ClassVar[tuple[StepSpec, ...]] = (
        StepSpec("seed"),
        StepSpec("export", needs=("seed",)),
        StepSpec("archive", needs=("export",)),
        StepSpec("posture", needs=("archive",)),
        StepSpec("upload", needs=("archive", "posture")),
        StepSpec("fetch", data_proving=True, needs=("upload",)),
        StepSpec("extract", needs=("archive",), needs_when=(("offsite", "fetch"),)),
        StepSpec("validate", data_proving=True, needs=("extract",)),
        StepSpec("dry-run", needs=("validate",)),
        StepSpec("restore", needs=("dry-run",)),
        StepSpec("smoke", data_proving=True, needs=("restore",)),
        StepSpec("re-export-compare", data_proving=True, needs=("restore",)),
    )

    contract: Contract
    source_db: Database
    target_db: Database | None = None
    exported: ExportResult
    archive_info: ArchiveInfo
    extracted: Path
    report: ValidationReport
    planned: DryRunResult
    restored: RestoreResult
    smoke_results: list[SmokeResult]
    comparison: dict[str, Any]
    offsite: OffsiteSession | None = None

    @classmethod
    def for_scenario(cls, scenario: Scenario, options: RunOptions) -> type[Lane]:
        """Archive mode (``source.archive`` or ``drill run --archive``) drills an existing archive."""
        if scenario.source.archive is not None or options.archive:
            archive_lane: type[Lane] = load("harness.portable.archive_lane:PortableArchiveLane")
            return archive_lane  # by name: the archive lane is a subclass of this one
        return cls

    def parse_options(self) -> PortableOptions:
        return parse_options(
            self.scenario.options,
            where=str(self.scenario.path),
            scenario_name=self.scenario.name,
            source_environment=self.scenario.source_environment,
        )

    def has(self, feature: str) -> bool:
        """``offsite``: the archive goes to S3 and the drill restores the copy fetched back."""
        return feature == "offsite" and self.opts.offsite is not None

    def _offsite(self) -> OffsiteSession:
        settings: OffsiteSettings | None = self.opts.offsite
        if settings is None:
            raise StepSkipped("the scenario has no options.offsite; the archive stays local")
        if self.offsite is None:
            shared = self.options.extra.get("aws_endpoint")  # a drill this lane stands in for
            self.offsite = OffsiteSession(settings, self.stack, self.options.aws_provider, endpoint=shared)
        return self.offsite

    def _contract(self) -> Contract:
        if not hasattr(self, "contract"):
            rel = self.scenario.data.get("contract")
            if not rel:
                raise ConfigError(f"{self.scenario.path}: the portable-export lane needs 'contract'")
            self.contract = load_contract(self.scenario.resolve(rel))
        return self.contract

    def step_seed(self) -> str:
        _ = self.opts  # bad options fail the first step, before any work
        self._contract()
        self.require_providers("source", "target")  # no Docker for a docker service: skip the drill
        db, embedded = self.postgres("source", SOURCE_DB)
        if embedded:
            from harness.dataset.generator import seed_dataset

            dataset = self.scenario.dataset(self.options, self.default_dataset_rows)
            db = create_database(self.admin_database(db), SOURCE_DB).with_environment(db.environment)
            started = time.perf_counter()
            counts = seed_dataset(db, dataset.rows, seed=dataset.seed)
            self.source_db = db
            took = time.perf_counter() - started
            return f"seeded {sum(counts.values())} rows into embedded {SOURCE_DB} in {took:.1f}s"
        with db.connect() as conn:
            conn.execute("SELECT 1")
        self.source_db = db
        return f"connected to {db.label} (environment {db.environment})"

    def step_export(self) -> str:
        source = self.scenario.source
        info = SourceInfo.from_env(
            source.environment or self.source_db.environment, stack=source.stack, region=source.region
        )
        self.exported = export(self.source_db, self.contract, self.make_work_dir() / "export", info)
        rate = self.exported.rows / self.exported.seconds if self.exported.seconds else 0.0
        return f"{self.exported.rows} records in {len(self.exported.entities)} files ({rate:,.0f} rows/s)"

    def step_archive(self) -> str:
        stamp = self.exported.manifest["generated_at"].replace("-", "").replace(":", "")
        dest = self.work_dir / f"{self.scenario.name}-{stamp}.tar.gz"
        self.archive_info = create_archive(self.exported.directory, dest)
        return f"{dest.name}: {self.archive_info.size_bytes} bytes, sha256 {self.archive_info.sha256[:12]}…"

    def step_posture(self) -> str:
        return self._offsite().posture()

    def step_upload(self) -> str:
        return self._offsite().upload(
            self.archive_info.path, self.exported.manifest, self.archive_info.sha256
        )

    def step_fetch(self) -> str:
        self.restore_clock = time.perf_counter()  # RTO starts when the archive is fetched
        return self._offsite().fetch(self.work_dir / "fetched")

    def step_extract(self) -> str:
        path, where = self.archive_info.path, "local archive"
        if self.has("offsite"):  # the runner ran this step only because fetch passed
            assert self.offsite is not None
            assert self.offsite.fetched is not None
            path, where = self.offsite.fetched.path, "offsite copy"
        else:
            self.restore_clock = time.perf_counter()
        actual = sha256_file(path)
        if actual != self.archive_info.sha256:
            raise ArchiveError(
                f"{path}: sha256 {actual} differs from the recorded {self.archive_info.sha256}"
            )
        self.extracted = extract_archive(path, self.work_dir / "extracted")
        return f"{where} checksum matches; extracted {len(self.archive_info.members)} members"

    def step_validate(self) -> str:
        self.report = validate_export(self.contract, self.extracted, scratch_dir=self.work_dir)
        if not self.report.ok:
            first = self.report.findings[0] if self.report.findings else None
            raise VerificationFailed(f"{self.report.error_count} finding(s); first: {first}")
        rate = self.report.records_checked / self.report.seconds if self.report.seconds else 0.0
        return (
            f"{self.report.records_checked} records checked against every rule, no findings ({rate:,.0f}/s)"
        )

    def _target(self) -> Database:
        if self.target_db is None:
            db, embedded = self.postgres("target", TARGET_DB)
            if embedded:
                if db.environment == PRODUCTION:
                    raise RefusedError(
                        f"{self.scenario.path}: an embedded target is a throwaway database the drill "
                        "creates; it cannot be declared production"
                    )
                db = create_database(self.admin_database(db), TARGET_DB).with_environment(db.environment)
                apply_schema(db, self.scenario.target.schema_sql, self.scenario.path.parent, self.contract)
            self.target_db = db
        return self.target_db

    def step_dry_run(self) -> str:
        self.planned = dry_run(self._target(), self.contract, self.extracted, self.report)
        if not self.planned.zero_writes_proven:
            raise VerificationFailed(f"zero writes could not be proven: {self.planned.proof}")
        p = self.planned
        return (
            f"would insert {p.total('would_insert')}, update {p.total('would_update')}, skip "
            f"{p.total('skipped')}, invalid {p.total('invalid')}; zero writes proven"
        )

    def step_restore(self) -> str:
        return self._restore_all(sum(self.exported.manifest["entity_counts"].values()), "the export holds")

    def _restore_all(self, total: int, reference: str) -> str:
        """Import the validated export into the scratch target (never production); every one of the
        ``total`` records must be written (``reference`` says where the total comes from)."""
        target = self._target()
        if declared_environment(target) == PRODUCTION:
            raise RefusedError(
                f"{target.label} is declared production; drills never restore into production "
                "(use `drill restore --approve-production REF` for an approved human restore)"
            )
        self.restored = restore(target, self.contract, self.extracted, self.report)
        self.restore_done = (time.perf_counter(), datetime.now(UTC))
        written = sum(self.restored.inserted.values()) + sum(self.restored.updated.values())
        if written != total:
            raise VerificationFailed(f"restore wrote {written} records but {reference} {total}")
        return f"restored {written} records into {target.label} in {self.restored.seconds:.1f}s"

    def step_smoke(self) -> str:
        checks = self.scenario.data.get("smoke") or []
        if not checks:
            raise StepSkipped("the scenario defines no smoke queries")
        self.smoke_results = run_smoke(self._target(), checks, source=self.source_db)
        self.smoke_done = time.perf_counter()
        failed = [r for r in self.smoke_results if not r.passed]
        if failed:
            raise VerificationFailed("; ".join(f"{r.name}: {r.detail}" for r in failed))
        return f"{len(self.smoke_results)} smoke queries passed"

    def step_re_export_compare(self) -> str:
        count = self._compare_reexport(self.exported.manifest, "re-export differs from the source")
        return self.compared(count, "the source")

    def _compare_reexport(self, reference: dict[str, Any], differs: str) -> int:
        """Export the restored target again and compare counts and sha256 with ``reference`` (a
        manifest); VerificationFailed ``differs`` for the entities that do not match."""
        target = self._target()
        again = export(
            target, self.contract, self.work_dir / "reexport", SourceInfo.from_env(target.environment)
        )
        if self.contract.version >= 2:  # a foreign writer: same records, not the same bytes
            self.comparison = compare_exports(self.contract, self.extracted, again.directory)
        else:
            self.comparison = compare_manifests(reference, again.manifest)
        if not self.comparison["passed"]:
            bad = [n for n, e in self.comparison["entities"].items() if not e["match"]]
            raise VerificationFailed(f"{differs} for: {', '.join(bad)}")
        return len(self.comparison["entities"])

    def compared(self, count: int, against: str) -> str:
        """The step line for a comparison that passed."""
        if self.contract.version >= 2:
            return f"all {count} entities hold {against}'s records (semantic compare)"
        return f"all {count} entities match {against} byte for byte (counts and sha256)"

    # -- evidence -----------------------------------------------------------------------------------
    def _measurements(self) -> dict[str, Any]:
        rto = rpo = None
        if hasattr(self, "restore_done") and hasattr(self, "restore_clock"):
            end = getattr(self, "smoke_done", self.restore_done[0])
            rto = end - self.restore_clock
            generated = datetime.strptime(self.exported.manifest["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
            rpo = max(0.0, (self.restore_done[1] - generated.replace(tzinfo=UTC)).total_seconds())
        rates: dict[str, float] = {}
        if hasattr(self, "exported") and self.exported.seconds:
            rates["export"] = round(self.exported.rows / self.exported.seconds, 1)
        if hasattr(self, "report") and self.report.seconds:
            rates["validate"] = round(self.report.records_checked / self.report.seconds, 1)
        return {
            "rto": self.objective(
                "rto", rto, "from fetching the archive to the restored target passing smoke queries"
            ),
            "rpo": self.objective("rpo", rpo, "age of the export snapshot when the restore completed"),
            "rows_per_second": rates,
        }

    def _restore_sections(self) -> dict[str, Any]:
        """The target and what the validate → restore → compare steps found (as far as they got)."""
        target = self.target_db
        out: dict[str, Any] = {
            "target": {"environment": target.environment, "database": target.describe()}
            if target
            else {"environment": self.role("target").environment}
        }
        if hasattr(self, "report"):
            out["validation"] = self.report.summary()
        if hasattr(self, "planned"):
            out["dry_run"] = self.planned.to_dict()
        if hasattr(self, "restored"):
            out["restore"] = self.restored.to_dict()
        if hasattr(self, "smoke_results"):
            out["smoke"] = [r.to_dict() for r in self.smoke_results]
        if hasattr(self, "comparison"):
            out["comparison"] = self.comparison
        return out

    def sections(self) -> dict[str, Any]:
        out: dict[str, Any] = {"measurements": self._measurements()}
        source: dict[str, Any] = {}
        if hasattr(self, "source_db"):
            source["database"] = self.source_db.describe()
        if hasattr(self, "contract"):
            source["contract"] = {
                "name": self.contract.name,
                "path": str(self.contract.path),
                "sha256": f"sha256:{self.contract.sha256}",
            }
        if hasattr(self, "archive_info"):
            source["archive"] = {
                "uri": self.archive_info.path.resolve().as_uri(),
                "sha256": f"sha256:{self.archive_info.sha256}",
                "size_bytes": self.archive_info.size_bytes,
            }
            uploaded = self.offsite.uploaded if self.offsite else None
            if uploaded is not None:  # the offsite copy is the archive of record
                source["archive"].update(uri=str(uploaded.uri), version_id=uploaded.version_id)
        if hasattr(self, "exported"):
            m = self.exported.manifest
            source["manifest"] = {k: m[k] for k in MANIFEST_EVIDENCE_KEYS}
        out["source"] = source
        out.update(self._restore_sections())
        if self.offsite is not None:
            out["extra"] = {"offsite": self.offsite.sections()}
        return out
