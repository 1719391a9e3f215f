"""The portable-export lane in archive mode: drill an archive that already exists.

``source.archive`` (or ``drill run --archive URI``) names it: an ``s3://`` prefix (the newest archive
under it, by the generated-at in its key; its version id pinned in the evidence), an explicit key
with an optional version, or a local file. Read-only on the source (List/Head/Get only): locate →
freshness → posture of the source bucket → fetch (checksum-verified) → extract → validate →
dry-run → restore into the scratch target → smoke → compare the restored counts and checksums with
the *manifest's* (there is no live source to re-export) → heartbeat (measured RPO) → objectives.

``options.stand_in`` first runs another portable-export scenario standing in for production against
this drill's own endpoint (docs/offsite-archive.md explains the choice): the drill then finds
exactly what a production writer left in the bucket. It never runs against real AWS.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from harness.archive import extract_archive
from harness.clock import utc_iso
from harness.dataset.heartbeat import HeartbeatResult, measure_heartbeat
from harness.errors import ArchiveError, ConfigError, StepSkipped, VerificationFailed
from harness.files import MANIFEST, sha256_file
from harness.lanes.base import StepSpec
from harness.offsite.fetch import FetchResult, fetch_archive
from harness.offsite.freshness import Freshness, freshness
from harness.offsite.keys import check_label, parse_generated_at
from harness.offsite.locate import Located, locate, with_version_hex
from harness.offsite.posture import PostureReport, check_posture
from harness.offsite.session import OffsiteSession
from harness.offsite.settings import OffsiteSettings
from harness.offsite.upload import read_manifest
from harness.portable.contract import ManifestView, read_view
from harness.portable.lane import MANIFEST_EVIDENCE_KEYS, PortableExportLane
from harness.portable.validate.rules.manifest import generated_moment
from harness.smoke import judged, run_smoke


class PortableArchiveLane(PortableExportLane):
    steps: ClassVar[tuple[StepSpec, ...]] = (
        StepSpec("stand-in"),
        StepSpec("locate", needs_when=(("stand-in", "stand-in"),)),
        StepSpec("freshness", needs=("locate",)),
        StepSpec("posture", needs=("locate",)),
        StepSpec("fetch", data_proving=True, needs=("locate",), needs_when=(("s3", "posture"),)),
        StepSpec("extract", needs=("fetch",)),
        StepSpec("validate", data_proving=True, needs=("extract",)),
        StepSpec("dry-run", needs=("validate",)),
        StepSpec("restore", needs=("dry-run",)),
        StepSpec("smoke", data_proving=True, needs=("restore",)),
        StepSpec("manifest-compare", data_proving=True, needs=("restore",)),
        StepSpec("heartbeat", data_proving=True, needs=("restore",)),
        StepSpec("objectives", needs=("restore",)),
    )

    located: Located
    fresh: Freshness
    source_posture: PostureReport
    fetched_archive: FetchResult | None = None
    archive_path: Path
    manifest: dict[str, Any]
    heartbeat_result: HeartbeatResult
    stand_in_record: dict[str, Any] | None = None

    # -- the source ---------------------------------------------------------------------------------
    @property
    def archive_text(self) -> tuple[str, str | None]:
        """The archive URI (``--archive`` beats ``source.archive``) and its pinned version."""
        if self.options.archive:
            return self.options.archive, None
        spec = self.scenario.source.archive
        assert spec is not None
        return spec.uri, spec.version_id

    def has(self, feature: str) -> bool:
        if feature == "stand-in":  # --archive names a real archive: the scenario's stand-in does not apply
            return self.opts.stand_in is not None and not self.options.archive
        return feature == "s3" and self.archive_text[0].startswith("s3://")

    def _session(self) -> OffsiteSession:
        """The endpoint of the source bucket: ``options.offsite.aws`` (and its posture policy) with
        the bucket from the URI; nothing is provisioned or written."""
        if self.offsite is None:
            from harness.offsite.keys import parse_s3_uri

            bucket = parse_s3_uri(self.archive_text[0]).bucket
            base: OffsiteSettings | None = self.opts.offsite
            name = check_label(self.scenario.name, "the scenario name")
            settings = (
                replace(base, bucket=bucket, provision=False)
                if base is not None
                else OffsiteSettings(bucket=bucket, name=name, environment="drill", provision=False)
            )
            self.offsite = OffsiteSession(settings, self.stack, self.options.aws_provider)
        return self.offsite

    # -- steps --------------------------------------------------------------------------------------
    def step_stand_in(self) -> str:
        spec = self.opts.stand_in
        if spec is None:
            raise StepSkipped("no options.stand_in: the drill reads what production wrote")
        if self.options.archive:
            raise StepSkipped("--archive names the archive to drill: the scenario's stand-in does not run")
        from harness.portable.stand_in import run_stand_in

        session = self._session()
        if session.provider == "aws":
            raise ConfigError(
                f"{self.scenario.path}: options.stand_in: a stand-in writes archives; it never runs "
                "against real AWS (drop stand_in, or use the embedded or localstack provider)"
            )
        self.stand_in_record = run_stand_in(self, spec, session.start())
        r = self.stand_in_record
        return (
            f"stand-in production {r['scenario']} wrote {r['archive_uri']} (generated {r['generated_at']}) "
            f"to this drill's {session.provider} endpoint"
        )

    def step_locate(self) -> str:
        self._contract()
        _ = self.opts
        text, version = self.archive_text
        s3 = None
        if text.startswith("s3://"):
            session = self._session()
            session.start()
            s3 = session.s3
        base = Path.cwd() if self.options.archive else self.scenario.path.parent  # --archive: as typed
        self.located = located = locate(s3, text, version, base)
        if located.uri is None:
            return f"local archive {located.path} ({located.size_bytes} bytes)"
        older = f"; {len(located.older)} older shown in the evidence" if located.older else ""
        ignored = f"; {located.ignored} other object(s) ignored" if located.ignored else ""
        pinned = f" version {located.uri.version_id}" if located.uri.version_id else ""
        return f"{located.how}: {located.uri}{pinned} ({located.candidates} archive(s){older}{ignored})"

    def _archive_time(self) -> tuple[datetime, str]:
        """When the archive was generated: the key's time stamp, else its manifest (local files)."""
        if self.located.generated_at is not None:
            return self.located.generated_at, "the generated-at in its key"
        if self.located.path is not None:
            return self._generated(read_manifest(self.located.path)), "generated_at in its manifest"
        raise VerificationFailed(
            f"{self.located.where}: the key carries no generated-at; its age cannot be told before "
            "fetching (name archives <prefix>/<environment>/<YYYY-MM-DD>/<name>-<YYYYMMDDTHHMMSSZ>.tar.gz)"
        )

    def _view(self, manifest: dict[str, Any]) -> ManifestView:
        return read_view(manifest, self.contract.profile)

    def _generated(self, manifest: dict[str, Any]) -> datetime:
        """The manifest's generated-at, read where and in the form its contract's profile says."""
        profile = self.contract.profile
        value = self._view(manifest).generated_at
        if profile.builtin:
            return parse_generated_at(str(value), f"{MANIFEST}: {profile.generated_at}")
        moment = generated_moment(value, profile.generated_form)
        if moment is None:
            raise VerificationFailed(
                f"{MANIFEST}: {profile.generated_at} is not a {profile.generated_form} time "
                f"({type(value).__name__}); the archive's age cannot be told"
            )
        return moment

    def step_freshness(self) -> str:
        when, means = self._archive_time()
        self.fresh = freshness(
            self.located.where, when, self.scenario.objectives.max_backup_age_seconds, time_means=means
        )
        return self.fresh.judge()

    def step_posture(self) -> str:
        if self.located.uri is None:
            raise StepSkipped("a local archive: no bucket to check")
        session = self._session()
        endpoint = session.start()
        s = session.settings
        self.source_posture = report = check_posture(
            session.s3, s.bucket, self.located.uri.key.rsplit("/", 1)[0], s.posture, endpoint.region
        )
        if report.passed or report.warn_only:
            return ("" if report.passed else "WARN-ONLY: ") + report.summary()
        raise VerificationFailed(f"the source bucket's posture fails: {report.summary()}")

    def step_fetch(self) -> str:
        self.restore_clock = time.perf_counter()  # RTO starts when the archive is fetched
        if self.located.uri is None:
            assert self.located.path is not None
            self.archive_path = self.located.path
            return f"local archive {self.archive_path.name}: nothing to fetch"
        session = self._session()
        endpoint = session.start()
        self.fetched_archive = f = fetch_archive(
            session.s3, self.located.uri, self.make_work_dir() / "fetched", region=endpoint.region
        )
        self.archive_path = f.path
        return (
            f"fetched {f.size_bytes} bytes of {f.uri} version {f.version_id} (pinned) "
            f"({f.mb_per_second:.1f} MB/s); verified against {', '.join(f.checks)}"
        )

    def step_extract(self) -> str:
        if self.fetched_archive is not None and sha256_file(self.archive_path) != self.fetched_archive.sha256:
            raise ArchiveError(f"{self.archive_path}: changed after it was fetched")
        self.extracted = extract_archive(self.archive_path, self.make_work_dir() / "extracted")
        try:
            self.manifest = json.loads((self.extracted / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ArchiveError(f"{self.located.where}: {MANIFEST} is missing or not JSON") from None
        if not isinstance(self.manifest, dict):
            raise ArchiveError(f"{self.located.where}: {MANIFEST} is not an object")
        stamped = self.located.generated_at
        if stamped is not None and not self._stamped_as(stamped):
            raise VerificationFailed(
                f"{self.located.where}: the manifest's generated_at differs from the time in the key "
                f"({utc_iso(stamped)}): a misfiled or altered archive"
            )
        return f"extracted {self.located.where} safely into {self.extracted}"

    def _stamped_as(self, stamped: datetime) -> bool:
        """Whether the manifest says the archive was generated at its key's time stamp (the harness's
        own manifest: the very string; another profile: the same second)."""
        if self.contract.profile.builtin:
            return bool(self.manifest.get("generated_at") == utc_iso(stamped))
        moment = generated_moment(
            self._view(self.manifest).generated_at, self.contract.profile.generated_form
        )
        return moment is not None and moment.replace(microsecond=0) == stamped

    def step_restore(self) -> str:
        counts = self._view(self.manifest).counts
        return self._restore_all(sum(counts.values()), "the manifest lists")

    def step_smoke(self) -> str:
        checks = self.scenario.data.get("smoke") or []
        runnable: list[dict[str, Any]] = []
        not_applicable: list[dict[str, Any]] = []
        for check in checks:
            expect = {k: v for k, v in check["expect"].items() if k != "equals_source"}
            (runnable if expect else not_applicable).append({**check, "expect": expect})
        if not runnable:
            why = f" ({len(not_applicable)} compare with a live source)" if not_applicable else ""
            raise StepSkipped(f"no smoke query applies to an archive drill{why}")
        self.smoke_results = run_smoke(self._target(), runnable, source=None)
        self.smoke_done = time.perf_counter()
        skipped = (
            f"; {len(not_applicable)} compare with the live source only: not applicable in archive mode"
            if not_applicable
            else ""
        )
        return judged(self.smoke_results) + skipped

    def step_manifest_compare(self) -> str:
        count = self._compare_reexport(self.manifest, "the restored data differs from the archive's manifest")
        if self.contract.version >= 2:
            return self.compared(count, "the archive") + " (no live source: the archive is the reference)"
        return (
            f"all {count} entities re-export to the manifest's counts and sha256 (no live source: "
            "the manifest is the reference)"
        )

    def step_heartbeat(self) -> str:
        spec = self.scenario.heartbeat
        if spec is None:
            raise StepSkipped("the scenario names no heartbeat: RPO is the archive's age (a bound)")
        reference = self.restore_done[1]
        self.heartbeat_result = r = measure_heartbeat(
            self._target(), spec, reference, "drill time (restore done)"
        )
        return f"newest heartbeat in {spec.table}: {utc_iso(r.newest)}; measured RPO {r.rpo_seconds:.1f}s"

    def _rpo(self) -> tuple[float | None, str, str]:
        if hasattr(self, "heartbeat_result"):
            return (
                self.heartbeat_result.rpo_seconds,
                "heartbeat",
                ("measured: restore completion minus the newest heartbeat in the restored data"),
            )
        if hasattr(self, "restore_done") and hasattr(self, "fresh"):
            age = (self.restore_done[1] - self.fresh.backup_time).total_seconds()
            return (
                max(0.0, age),
                "bound",
                "bound: age of the archive (its generated-at) when the restore completed",
            )
        return None, "bound", "age of the archive when the restore completed"

    def step_objectives(self) -> str:
        return self.judge_objectives({"rto": self._rto(), "rpo": self._rpo()[0]})

    def _rto(self) -> float | None:
        if not (hasattr(self, "restore_done") and hasattr(self, "restore_clock")):
            return None
        return getattr(self, "smoke_done", self.restore_done[0]) - self.restore_clock

    # -- evidence -----------------------------------------------------------------------------------
    def _manifest_evidence(self) -> dict[str, Any]:
        """The archive's manifest as evidence: the harness's own shape keeps its fields (those of the
        expected type only); another profile's is normalised through it (counts, hex checksums, the
        generated-at in RFC 3339, the schema version), so evidence reads alike whoever wrote it."""
        if self.contract.profile.builtin:
            return {
                k: self.manifest[k]
                for k in MANIFEST_EVIDENCE_KEYS
                if isinstance(self.manifest.get(k), dict if k in ("entity_counts", "checksums") else str)
            }
        view = self._view(self.manifest)
        out: dict[str, Any] = {"profile": "contract", "entity_counts": view.counts}
        out["checksums"] = {f: f"sha256:{h}" for f, h in view.checksums.items()}
        moment = generated_moment(view.generated_at, self.contract.profile.generated_form)
        if moment is not None:
            out["generated_at"] = utc_iso(moment)
        if view.schema_version is not None:
            out["schema_version"] = view.schema_version
        return out

    def sections(self) -> dict[str, Any]:
        rpo, method, how = self._rpo()
        measurements: dict[str, Any] = {
            "rto": self.objective(
                "rto", self._rto(), "from fetching the archive to the restored target passing smoke"
            ),
            "rpo": {**self.objective("rpo", rpo, how), "method": method},
        }
        if hasattr(self, "heartbeat_result"):
            measurements["rpo"]["heartbeat"] = self.heartbeat_result.to_dict()
        if hasattr(self, "fresh"):
            measurements["freshness"] = self.fresh.to_dict()
        if hasattr(self, "report") and self.report.seconds:
            measurements["rows_per_second"] = {
                "validate": round(self.report.records_checked / self.report.seconds, 1)
            }
        out: dict[str, Any] = {"measurements": measurements}
        source: dict[str, Any] = {}
        if hasattr(self, "contract"):
            source["contract"] = {"name": self.contract.name, "path": str(self.contract.path)}
        if hasattr(self, "located"):
            located = self.located
            source["archive"] = {"uri": located.where}
            if located.uri is not None:
                source["archive"]["version_id"] = (
                    self.fetched_archive.version_id if self.fetched_archive else located.uri.version_id
                )
        if self.fetched_archive is not None:
            source["archive"].update(
                sha256=f"sha256:{self.fetched_archive.sha256}", size_bytes=self.fetched_archive.size_bytes
            )
        if hasattr(self, "manifest"):
            source["manifest"] = self._manifest_evidence()
        out["source"] = source
        out.update(self._restore_sections())
        offsite: dict[str, Any] = {}
        if hasattr(self, "located"):
            offsite["locate"] = self.located.to_dict()
        if hasattr(self, "source_posture"):
            offsite["source_posture"] = self.source_posture.to_dict()
        if self.fetched_archive is not None:
            offsite["fetch"] = with_version_hex(self.fetched_archive.to_dict())
        if self.stand_in_record is not None:
            offsite["stand_in"] = self.stand_in_record
        out["extra"] = {"archive_drill": offsite}
        return out
