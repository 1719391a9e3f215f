"""Offsite WAL for the pitr drill: ship the base backup and every archived WAL file to S3, then
fetch them back, checksum-verified, into a fresh directory that recovery reads instead of the
local archive (docs/database-drills.md).

Objects, under keys that carry no private data (fixed labels, the cluster's numeric system
identifier, a UTC time stamp, WAL file names)::

    <prefix>/<environment>/<system-identifier>/base/<YYYYMMDDTHHMMSSZ>.tar.gz   the base backup
    <prefix>/<environment>/<system-identifier>/wal/<WAL file>.gz                 every archived file

The base backup goes as one gzip'd tar of the plain backup (members under ``base-backup/``,
``backup_manifest`` included), each WAL file gzip'd on its own (harness/pgdrill/wal_files.py).
The archive_command stays a local copy (it runs
as the server account inside the server); shipping runs in lane steps after the writes. Endpoint,
provisioning and posture come from the offsite archive's session; every object is stored with
server-side encryption and a SHA-256 the store verifies, and fetched back through the offsite
fetch (store checksum and the SHA-256 recorded at upload).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.aws.s3 import check_bucket
from harness.errors import ArchiveError, ConfigError, VerificationFailed
from harness.offsite.fetch import FetchResult, fetch_archive
from harness.offsite.keys import S3Uri, check_label, check_prefix
from harness.offsite.locate import list_keys
from harness.offsite.session import OffsiteSession
from harness.offsite.settings import OffsiteSettings, load_settings
from harness.offsite.upload import StoredObject, put_verified
from harness.pgdrill.wal_files import extract_backup, gunzip_file, gzip_file, write_backup_tar
from harness.postgres.process import hand_over
from harness.postgres.recovery import SEGMENT, WAL_FILE, BaseBackup, archived_files, read_backup_label
from harness.secrets import scan_text

OPTION = "options.wal_offsite"
DEFAULT_PREFIX = "pitr"
GZIP = "application/gzip"
_STAMP = "%Y%m%dT%H%M%SZ"
_BASE_NAME = re.compile(r"(\d{8}T\d{6}Z)\.tar\.gz")
_SYSTEM_ID = re.compile(r"\d{1,20}")


def load_wal_offsite(options: dict[str, Any], *, where: str, environment: str) -> OffsiteSettings | None:
    """``options.wal_offsite`` (already schema-valid) as offsite settings; None when not set."""
    return load_settings(
        options,
        where=where,
        scenario_name="pitr",
        source_environment=environment,
        key="wal_offsite",
        default_prefix=DEFAULT_PREFIX,
    )


def object_root(settings: OffsiteSettings, system_id: str) -> str:
    """``<prefix>/<environment>/<system-identifier>``, every part checked, none a secret lookalike."""
    if not _SYSTEM_ID.fullmatch(system_id):
        raise ConfigError("the cluster's system identifier is not a number (value withheld)")
    root = "/".join(
        (
            check_prefix(settings.prefix, f"{OPTION}.prefix"),
            check_label(settings.environment, f"{OPTION}.environment"),
            system_id,
        )
    )
    if any(scan_text(part) for part in root.split("/")):
        raise ConfigError(f"{OPTION}: part of the object prefix looks like a secret (value withheld)")
    return root


def checksum_summary(pairs: Iterable[tuple[str, str]]) -> str:
    """``sha256:`` of the lines ``<file name> <sha256 hex>\\n`` in name order."""
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(pairs))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


@dataclass(frozen=True)
class WalCopy:
    """One WAL file as shipped or fetched: the file's own bytes, and the stored (gzip'd) object."""

    name: str
    sha256: str
    size_bytes: int
    version_id: str | None
    stored_sha256: str
    stored_bytes: int

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": self.name,
            "version_id": self.version_id,
            "sha256": f"sha256:{self.sha256}",
            "size_bytes": self.size_bytes,
            "stored_sha256": f"sha256:{self.stored_sha256}",
            "stored_bytes": self.stored_bytes,
        }
        if self.version_id and scan_text(self.version_id):  # real S3 ids look like tokens to the scrubber
            row["version_id_hex"] = self.version_id.encode().hex()
        return row


def wal_summary(copies: list[WalCopy], **more: Any) -> dict[str, Any]:
    return {
        "files": len(copies),
        "segments": sum(1 for c in copies if SEGMENT.fullmatch(c.name)),
        "bytes": sum(c.size_bytes for c in copies),
        "stored_bytes": sum(c.stored_bytes for c in copies),
        "checksum_summary": checksum_summary((c.name, c.sha256) for c in copies),
        **more,
        "objects": [c.to_dict() for c in copies],
    }


@dataclass
class Fetched:
    """What came back from S3: the directories recovery reads, and the downloads that filled them."""

    directory: Path
    backup_dir: Path
    wal_dir: Path
    backup: FetchResult
    start_wal: str  # from the fetched backup_label: recovery starts there
    wal: list[WalCopy] = field(default_factory=list)
    checks: set[str] = field(default_factory=set)
    not_in_bucket: list[str] = field(default_factory=list)
    seconds: float = 0.0


class WalOffsite:
    """One drill's offsite copy of its base backup and WAL, and what came back."""

    def __init__(
        self, settings: OffsiteSettings, stack: contextlib.ExitStack, provider_override: str | None
    ) -> None:
        self.session = OffsiteSession(settings, stack, provider_override)
        self.root = ""
        self.backup_object: StoredObject | None = None
        self.wal: list[WalCopy] = []
        self.ship_seconds = 0.0
        self.fetched: Fetched | None = None

    @property
    def settings(self) -> OffsiteSettings:
        return self.session.settings

    def uri(self, *parts: str) -> str:
        return f"s3://{self.settings.bucket}/" + "/".join((self.root, *parts))

    # -- shipping -----------------------------------------------------------------------------------
    def posture(self, system_id: str) -> str:
        self.root = object_root(self.settings, system_id)
        if self.settings.provision and self.session.provider == "aws":
            raise ConfigError(f"{OPTION}.provision: the harness never creates buckets in real AWS")
        return self.session.posture()

    def _put(self, path: Path, key: str) -> StoredObject:
        report = self.session.report
        if report is None or not report.allows_upload:
            raise VerificationFailed("upload blocked: the bucket posture was not checked or did not pass")
        transfer, default = self.settings.transfer, report.default_encryption
        sse = transfer.sse or default.get("algorithm") or "AES256"
        kms_key = transfer.kms_key or default.get("kms_key") or None
        uri = S3Uri(self.settings.bucket, key)
        return put_verified(
            self.session.s3, path, uri, transfer=transfer, sse=sse, kms_key=kms_key, content_type=GZIP
        )

    def ship_backup(self, backup: BaseBackup, staging: Path) -> str:
        name = f"{backup.started_at.astimezone(UTC):{_STAMP}}.tar.gz"
        staging.mkdir(parents=True, exist_ok=True)
        tar = write_backup_tar(backup.path, staging / name)
        try:
            self.backup_object = self._put(tar, f"{self.root}/base/{name}")
        finally:
            tar.unlink(missing_ok=True)
        o = self.backup_object
        return (
            f"base backup ({backup.size_bytes} bytes) as {o.uri} version {o.version_id} "
            f"({o.size_bytes} bytes gzip'd, {o.sse}, store checksum verified)"
        )

    def ship_wal(self, archive: Path, staging: Path) -> str:
        started = time.perf_counter()
        shipped = {c.name for c in self.wal}
        files = [p for p in archived_files(archive) if p.name not in shipped]
        if not files and not shipped:
            raise VerificationFailed(f"the WAL archive {archive} is empty: nothing to ship")
        staging.mkdir(parents=True, exist_ok=True)
        for path in files:
            packed = staging / f"{path.name}.gz"
            try:
                sha256, size = gzip_file(path, packed)
                o = self._put(packed, f"{self.root}/wal/{packed.name}")
            finally:
                packed.unlink(missing_ok=True)
            self.wal.append(WalCopy(path.name, sha256, size, o.version_id, o.sha256, o.size_bytes))
        self.ship_seconds += time.perf_counter() - started
        s = wal_summary(self.wal)
        return (
            f"{s['files']} WAL file(s) ({s['segments']} segments, {s['bytes']} bytes, {s['stored_bytes']} "
            f"gzip'd) in {self.uri('wal/')}, each with a store-verified SHA-256 and server-side encryption"
        )

    # -- fetching -----------------------------------------------------------------------------------
    def _base_key(self, s3: Any, target: datetime) -> str:
        """The newest base backup in the bucket that started before ``target``."""
        stamps = {}
        for key in list_keys(s3, self.settings.bucket, f"{self.root}/base/"):
            match = _BASE_NAME.fullmatch(key.rsplit("/", 1)[-1])
            if match:
                stamps[datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)] = key
        usable = [when for when in stamps if when <= target]
        if not usable:
            raise ConfigError(
                f"{self.uri('base/')}: no base backup in the bucket that started before the target"
            )
        return stamps[max(usable)]

    def fetch(self, directory: Path, target: datetime, account: tuple[int, int] | None) -> Fetched:
        """Download the base backup and every WAL file in the bucket into ``directory`` (fresh)."""
        endpoint = self.session.start()
        s3, bucket, started = self.session.s3, self.settings.bucket, time.perf_counter()
        directory.mkdir()
        check_bucket(s3, bucket, endpoint.region, tolerate_forbidden=True)
        download = directory / "download"
        tar = fetch_archive(s3, S3Uri(bucket, self._base_key(s3, target)), download)
        backup_dir = extract_backup(tar.path, directory / "base")
        tar.path.unlink()
        wal_dir = directory / "wal"
        wal_dir.mkdir()
        fetched = Fetched(directory, backup_dir, wal_dir, tar, read_backup_label(backup_dir)[0])
        for key in list_keys(s3, bucket, f"{self.root}/wal/"):
            name = key.rsplit("/", 1)[-1].removesuffix(".gz")
            if not key.endswith(".gz") or not WAL_FILE.fullmatch(name):
                continue
            try:
                got = fetch_archive(s3, S3Uri(bucket, key), download)
                sha256, size = gunzip_file(got.path, wal_dir / name)
            except ArchiveError as exc:
                raise ArchiveError(
                    f"WAL file {name} came back damaged, recovery not attempted: {exc}"
                ) from None
            got.path.unlink()
            fetched.wal.append(WalCopy(name, sha256, size, got.version_id, got.sha256, got.size_bytes))
            fetched.checks.update(got.checks)
        self._compare(fetched)
        hand_over(directory, account)
        fetched.seconds = time.perf_counter() - started
        self.fetched = fetched
        return fetched

    def _compare(self, fetched: Fetched) -> None:
        """Everything fetched must be the bytes that were shipped (a new version with other bytes fails)."""
        sent_backup, got_backup = self.backup_object, fetched.backup
        if (
            sent_backup
            and sent_backup.uri.key == got_backup.uri.key
            and sent_backup.sha256 != got_backup.sha256
        ):
            raise VerificationFailed(
                f"{got_backup.uri}: the bucket holds other bytes than were shipped (version "
                f"{got_backup.version_id}, shipped {sent_backup.version_id}); recovery not attempted"
            )
        shipped = {c.name: c for c in self.wal}
        for copy in fetched.wal:
            sent = shipped.get(copy.name)
            if sent is not None and sent.sha256 != copy.sha256:
                raise VerificationFailed(
                    f"WAL file {copy.name}: the bucket holds other bytes than were shipped (version "
                    f"{copy.version_id}, shipped {sent.version_id}); recovery not attempted"
                )
        got = {c.name for c in fetched.wal}
        fetched.not_in_bucket = sorted(n for n in shipped if n not in got)

    # -- evidence -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        session = self.session.sections()
        out: dict[str, Any] = {
            "location": self.uri() + "/" if self.root else None,
            "provider": session["provider"],
            "endpoint": session["endpoint"],
            "bucket": self.settings.bucket,
            "compression": "gzip",
            "provisioned": session["provisioned"],
            "posture": session["posture"],
            "base_backup": self.backup_object.to_dict() if self.backup_object else None,
        }
        if self.wal:
            out["wal"] = wal_summary(self.wal, uri=self.uri("wal/"), seconds=round(self.ship_seconds, 3))
        if self.fetched is not None:
            f = self.fetched
            unpacked = {"unpacked_to": str(f.backup_dir.resolve()), "start_wal": f.start_wal}
            wal = wal_summary(
                f.wal,
                directory=str(f.wal_dir.resolve()),
                not_in_bucket=f.not_in_bucket,
                verified_against=sorted(f.checks | {"gzip CRC-32"}),
            )
            wal["same_as_shipped"] = wal["checksum_summary"] == out.get("wal", {}).get("checksum_summary")
            out["fetch"] = {
                "directory": str(f.directory.resolve()),
                "base_backup": {**f.backup.to_dict(), **unpacked},
                "wal": wal,
                "seconds": round(f.seconds, 3),
            }
        return out
