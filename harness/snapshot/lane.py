"""The ``snapshot`` lane: snapshot a tree to a store with KMS and Object Lock → verify → restore
→ compare → idempotent re-run → WORM refusal → prune dry-run. Evidence goes to ``extra.snapshot``.

Scenario ``options`` (schema ``harness/schemas/snapshot-options.schema.json``): ``source`` and
``tag``, ``store``/``key``/``aws`` as in the snapshot config, ``retention``, ``verify``
(``sample``/``seed``) and ``history`` (older unlocked snapshots with an injected clock, so the
prune dry run has something to decide). On the embedded endpoint the lane creates the bucket
(with Object Lock when configured) and the KMS key alias itself.
"""

from __future__ import annotations

import filecmp
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import ConfigError, ProviderError, RefusedError, StepSkipped, VerificationFailed
from harness.files import MANIFEST
from harness.lanes.base import Lane, StepSpec
from harness.snapshot.catalog import list_snapshots, open_snapshot
from harness.snapshot.config import SnapshotConfig, validate
from harness.snapshot.create import DEFAULT_PACK_SIZE, CreateResult, create_snapshot
from harness.snapshot.keys import KeyProvider, ensure_kms_key
from harness.snapshot.manifest import DEFAULT_CHUNK_SIZE, SPECIAL_TYPES, scan_tree
from harness.snapshot.restore import MODE_BITS, RestoreResult, restore_snapshot
from harness.snapshot.retention import prune
from harness.snapshot.store_base import SnapshotStore
from harness.snapshot.store_s3 import S3Store, S3Writer
from harness.snapshot.verify import VerifyResult, verify_snapshot


def compare_trees(source: Path, restored: Path) -> dict[str, Any]:
    """Entry-by-entry comparison: type, bytes, permission bits, mtime and link targets."""
    want = {e.path: e for e in scan_tree(source) if e.type not in SPECIAL_TYPES}
    have = {e.path: e for e in scan_tree(restored)}
    problems = [f"{p!r}: missing from the restore" for p in sorted(set(want) - set(have))]
    problems += [f"{p!r}: not in the source" for p in sorted(set(have) - set(want))]
    for path in sorted(set(want) & set(have)):
        a, b = want[path], have[path]
        kind = "file" if a.type == "hardlink" else a.type
        if kind != ("file" if b.type == "hardlink" else b.type):
            problems.append(f"{path!r}: {a.type} became {b.type}")
        elif kind == "symlink" and a.target != b.target:
            problems.append(f"{path!r}: link target {b.target!r} != {a.target!r}")
        elif kind == "file" and not filecmp.cmp(source / path, restored / path, shallow=False):
            problems.append(f"{path!r}: bytes differ")
        elif kind != "symlink" and a.mode & MODE_BITS != b.mode & MODE_BITS:
            problems.append(f"{path!r}: mode {b.mode & MODE_BITS:o} != {a.mode & MODE_BITS:o}")
        elif a.type != "hardlink" and a.mtime_ns != b.mtime_ns:
            problems.append(f"{path!r}: mtime differs")
    special = sum(1 for e in scan_tree(source) if e.type in SPECIAL_TYPES)
    return {
        "passed": not problems,
        "entries": len(want),
        "special_files_not_restored": special,
        "problems": problems[:20],
    }


class SnapshotLane(Lane):
    steps: ClassVar = (
        StepSpec("setup"),
        StepSpec("snapshot", needs=("setup",)),
        StepSpec("verify", data_proving=True, needs=("snapshot",)),
        StepSpec("restore", needs=("verify",)),
        StepSpec("compare", data_proving=True, needs=("restore",)),
        StepSpec("idempotent", needs=("restore",)),
        StepSpec("worm", needs=("snapshot",)),
        StepSpec("prune-dry-run", needs=("snapshot",)),
    )

    cfg: SnapshotConfig
    store: SnapshotStore
    keys: KeyProvider
    created: CreateResult
    verified: VerifyResult
    restored: RestoreResult
    rerun: RestoreResult

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.report: dict[str, Any] = {}
        self.history: list[str] = []

    def parse_options(self) -> SnapshotConfig:
        data = validate(
            self.scenario.options, "snapshot-options.schema.json", str(self.scenario.path), "options"
        )
        where = f"{self.scenario.path}: options"
        override = getattr(self.options, "aws_provider", None)
        if override:
            data = {**data, "aws": {**data.get("aws", {}), "provider": override}}
        return SnapshotConfig(where, self.scenario.path.parent, data)

    def _source(self) -> Path:
        source = self.cfg.path(self.cfg.data["source"])
        if not source.is_dir():
            raise ConfigError(f"{self.cfg.where}.source: {source} is not a directory")
        return source

    # -- steps ----------------------------------------------------------------------------------------
    def step_setup(self) -> str:
        self.cfg = self.opts
        self._source()
        try:
            endpoint = self.stack.enter_context(self.cfg.endpoint())
        except ProviderError as exc:
            if type(exc).__name__ == "DockerUnavailable":  # localstack wanted, no daemon: skip, never pass
                raise StepSkipped(str(exc)) from None
            raise
        self.store = self.cfg.store(endpoint, self.make_work_dir())
        made = []
        if endpoint is not None and endpoint.provider == "embedded":
            made = self._provision(endpoint)
        self.store.check()
        self.keys = self.cfg.keys(endpoint)
        self.report["store"] = self.store.describe()
        self.report["key"] = {"provider": self.keys.provider, "key_id": self.keys.key_id()}
        lock = self.cfg.lock()
        self.report["object_lock"] = {"mode": lock.mode, "days": lock.days} if lock else None
        where = " ".join(f"{k}={v}" for k, v in self.store.describe().items() if k != "endpoint")
        return f"store {where}; key {self.keys.provider}" + (f"; created {', '.join(made)}" if made else "")

    def _provision(self, endpoint: Any) -> list[str]:
        made = []
        spec = self.cfg.section("store")
        if spec["type"] == "s3":
            s3 = endpoint.client("s3")
            lock = bool(spec.get("object_lock"))
            s3.create_bucket(Bucket=spec["bucket"], ObjectLockEnabledForBucket=lock)
            made.append(f"bucket {spec['bucket']}" + (" with Object Lock" if lock else ""))
        if self.cfg.section("key").get("type") == "kms":
            ensure_kms_key(endpoint, self.cfg.section("key")["key_id"])
            made.append(f"KMS key {self.cfg.section('key')['key_id']}")
        return made

    def _create(self, when: datetime, *, locked: bool) -> CreateResult:
        return create_snapshot(
            self._source(),
            self.store,
            self.keys,
            tag=self.cfg.data["tag"],
            created_at=when,
            chunk_size=self.cfg.data.get("chunk_size", DEFAULT_CHUNK_SIZE),
            pack_size=self.cfg.data.get("pack_size", DEFAULT_PACK_SIZE),
            lock=self.cfg.lock() if locked else None,
        )

    def step_snapshot(self) -> str:
        now = datetime.now(UTC)
        history = self.cfg.section("history")
        for back in range(history.get("count", 0), 0, -1):
            when = now - timedelta(days=back * history["every_days"])
            self.history.append(self._create(when, locked=False).id)
        self.created = self._create(now, locked=True)
        self.snapshot_time = now
        lock = self.store.lock_state(self.created.id)
        self.report["snapshot"] = {**self.created.to_dict(), "lock": lock.to_dict()}
        self.report["history"] = self.history
        s = self.created.header["summary"]
        extra = f"; {len(self.history)} older unlocked snapshot(s) for retention" if self.history else ""
        return (
            f"{self.created.id}: {s['files']} files, {s['bytes']} bytes in {s['chunks']} chunks, "
            f"{s['packs']} pack(s), {lock.describe()}{extra}"
        )

    def step_verify(self) -> str:
        spec = self.cfg.section("verify")
        self.verified = verify_snapshot(
            self.store,
            self.keys,
            self.created.id,
            sample=spec.get("sample"),
            seed=spec.get("seed", 0),
            work_dir=self.work_dir,
        )
        self.report["verify"] = self.verified.to_dict()
        self.report["manifest"] = self.verified.snapshot
        return self.verified.message()

    def _restore(self) -> RestoreResult:
        allow = self.work_dir / "restore"
        opened = open_snapshot(self.store, self.keys, self.created.id)
        with self.store.reader(self.created.id) as reader:
            return restore_snapshot(opened, reader, allow / "tree", [allow])

    def step_restore(self) -> str:
        self.restore_clock = time.perf_counter()
        self.restored = self._restore()
        self.report["restore"] = self.restored.to_dict()
        if not self.restored.changed:
            raise VerificationFailed("the first restore into an empty target changed nothing")
        return self.restored.message()

    def step_compare(self) -> str:
        comparison = compare_trees(self._source(), self.work_dir / "restore" / "tree")
        self.report["compare"] = comparison
        if not comparison["passed"]:
            raise VerificationFailed(
                "restored tree differs from the source: " + "; ".join(comparison["problems"][:5])
            )
        self.restore_done = (time.perf_counter(), datetime.now(UTC))
        return f"all {comparison['entries']} entries match the source (bytes, modes, mtimes, link targets)"

    def step_idempotent(self) -> str:
        self.rerun = self._restore()
        self.report["idempotent"] = self.rerun.to_dict()
        if self.rerun.changed:
            raise VerificationFailed(f"re-running the restore changed the target: {self.rerun.counts()}")
        return self.rerun.message()

    def step_worm(self) -> str:
        if self.cfg.lock() is None:
            raise StepSkipped("no object_lock configured for this store")
        snap = self.created.id
        refusals = {}
        try:
            self.store.delete(snap)
        except RefusedError as exc:
            refusals["delete"] = str(exc)
        assert isinstance(self.store, S3Store)
        try:
            S3Writer(self.store, snap, None).put(MANIFEST, b"{}")  # straight to PUT, If-None-Match: *
        except RefusedError as exc:
            refusals["overwrite"] = str(exc)
        refusals["server"] = self._server_refusal(self.store, snap)
        open_snapshot(self.store, self.keys, snap)  # still there and still authentic
        self.report["worm"] = {"refused": sorted(refusals), "lock": self.store.lock_state(snap).to_dict()}
        missing = {"delete", "overwrite", "server"} - {k for k, v in refusals.items() if v}
        if missing:
            raise VerificationFailed(
                f"locked snapshot {snap} was not protected against: {', '.join(sorted(missing))}"
            )
        return (
            f"delete and overwrite of locked snapshot {snap} refused by the store; "
            "S3 itself refused a direct version delete"
        )

    @staticmethod
    def _server_refusal(store: S3Store, snap: str) -> str:
        """Bypass the harness: ask S3 itself to delete the manifest's locked version."""
        from botocore.exceptions import ClientError

        from harness.aws.errors import error_code

        s3, bucket, key = store.s3, store.bucket, store.key(snap, MANIFEST)
        version = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        try:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
        except ClientError as exc:
            return error_code(exc)[0] or "refused"
        raise VerificationFailed(f"S3 deleted the locked version of {key}: Object Lock is not enforced")

    def step_prune_dry_run(self) -> str:
        policy = self.cfg.retention()
        if policy is None:
            raise StepSkipped("no retention policy in the scenario options")
        before = self.store.ids()
        decisions = prune(self.store, self.keys, policy, dry_run=True)
        if self.store.ids() != before:
            raise VerificationFailed("the prune dry run changed the store")
        untrusted = [d.id for d in decisions if not d.trusted]
        if untrusted:
            raise VerificationFailed(f"snapshot(s) in the store did not authenticate: {', '.join(untrusted)}")
        doomed = [d.id for d in decisions if d.action == "delete"]
        if self.created.id in doomed:
            raise VerificationFailed(f"prune would delete the newest, locked snapshot {self.created.id}")
        self.report["prune"] = {
            "dry_run": True,
            "policy": policy.to_dict(),
            "decisions": [d.to_dict() for d in decisions],
        }
        self.report["listing"] = list_snapshots(self.store)
        return (
            f"policy {policy.to_dict()}: would delete {len(doomed)} of {len(decisions)} snapshot(s), "
            f"keeps {len(decisions) - len(doomed)} (newest and locked ones always); nothing deleted"
        )

    # -- evidence -------------------------------------------------------------------------------------
    def _measurements(self) -> dict[str, Any]:
        rto = rpo = None
        if hasattr(self, "restore_done"):
            rto = self.restore_done[0] - self.restore_clock
            rpo = max(0.0, (self.restore_done[1] - self.snapshot_time).total_seconds())
        return {
            "rto": self.objective(
                "rto", rto, "from opening the snapshot to the restored tree matching the source"
            ),
            "rpo": self.objective("rpo", rpo, "age of the snapshot when the restore was proven"),
        }

    def sections(self) -> dict[str, Any]:
        # Called after close(): services are gone, so everything was recorded by the steps.
        if not self.report:
            return {}
        return {
            "measurements": self._measurements(),
            "target": {"environment": "scratch"},
            "extra": {"snapshot": self.report},
        }
