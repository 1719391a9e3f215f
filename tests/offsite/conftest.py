"""Offsite fixtures: one real moto server (over HTTP) per session, fresh buckets, real archives."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.archive import ArchiveInfo, create_archive
from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.offsite.client import s3_client
from harness.offsite.posture import PostureReport, check_posture
from harness.offsite.provision import provision_bucket
from harness.offsite.settings import PosturePolicy, StorageSpec, TransferSettings
from harness.offsite.upload import UploadResult, upload_archive
from harness.portable.export import ExportResult

_buckets = itertools.count()
MIB = 1024 * 1024
PREFIX = "portable-export"
#: Small multipart settings so a 12 MiB archive goes in three parts; few, fast retries.
SMALL_PARTS = TransferSettings(
    multipart_threshold=5 * MIB, part_size=5 * MIB, max_concurrency=2, max_attempts=3
)


@pytest.fixture(scope="session")
def moto() -> Iterator[AwsEndpoint]:
    with embedded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto: AwsEndpoint) -> Any:
    """A fresh client (hooks registered by one test never leak into another)."""
    return s3_client(moto, SMALL_PARTS)


@pytest.fixture
def kms(moto: AwsEndpoint) -> Any:
    return moto.client("kms")


def new_bucket(s3: Any, kms: Any, region: str = "us-east-1", **spec: Any) -> str:
    """A bucket provisioned the production way (``spec`` overrides StorageSpec fields)."""
    name = f"drill-test-{os.getpid()}-{next(_buckets)}"
    provision_bucket(s3, kms, name, StorageSpec(**spec), region)
    return name


@pytest.fixture
def bucket(s3: Any, kms: Any) -> str:
    return new_bucket(s3, kms)


@pytest.fixture(scope="session")
def archive(reference_export: ExportResult, tmp_path_factory: pytest.TempPathFactory) -> ArchiveInfo:
    """A real export archive of the reference dataset (single-part sized)."""
    dest = tmp_path_factory.mktemp("offsite") / "reference.tar.gz"
    return create_archive(reference_export.directory, dest)


@pytest.fixture(scope="session")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> ArchiveInfo:
    """A 12 MiB archive (incompressible payload): three 5 MiB-class parts."""
    export_dir = tmp_path_factory.mktemp("big") / "export"
    export_dir.mkdir()
    manifest = {
        "schema_version": "2025-01",
        "generated_at": "2026-01-31T02:00:00Z",
        "export_format_version": "1",
        "entity_counts": {"blobs": 1},
        "checksums": {},
        "entity_files": {"blobs": "blobs.jsonl"},
    }
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    (export_dir / "blobs.jsonl").write_bytes(os.urandom(12 * MIB))
    return create_archive(export_dir, export_dir.parent / "big.tar.gz")


def posture(s3: Any, bucket: str, region: str = "us-east-1") -> PostureReport:
    """The live posture of ``bucket`` under PREFIX, judged by the default (strict) policy."""
    return check_posture(s3, bucket, PREFIX, PosturePolicy(), region)


def upload(
    s3: Any,
    bucket: str,
    archive: ArchiveInfo,
    *,
    report: PostureReport | None = None,
    transfer: TransferSettings = SMALL_PARTS,
) -> UploadResult:
    """Upload ``archive`` the way the lane does: to PREFIX, after a posture check (``report``, else
    a fresh one), expecting the archive's own SHA-256."""
    return upload_archive(
        s3,
        archive.path,
        bucket=bucket,
        prefix=PREFIX,
        environment="drill",
        name="portable-export",
        posture=report or posture(s3, bucket),
        transfer=transfer,
        expected_sha256=archive.sha256,
    )


def corrupt_stored_object(bucket: str, key: str) -> None:
    """Flip one byte of the stored object inside moto, keeping its recorded checksum: bit rot at rest.

    (The one fault that cannot be produced through the S3 API, which never lets bytes change
    without a new checksum.)
    """
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    stored = backend.get_bucket(bucket).keys.getlist(key)[-1]
    data = bytearray(stored.value)
    data[len(data) // 2] ^= 0xFF
    checksum = stored.checksum_value
    stored.value = bytes(data)
    assert stored.checksum_value == checksum


def no_multipart_uploads(s3: Any, bucket: str) -> bool:
    return not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def assert_nothing_left(s3: Any, bucket: str) -> None:
    """After a failed or refused upload: no incomplete multipart upload, and no object."""
    assert no_multipart_uploads(s3, bucket)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
