"""The object store on S3 (any endpoint: embedded moto, LocalStack, real AWS), through one boto3 client.

Large files go multipart through s3transfer (bounded memory; a failed or interrupted upload is
aborted, then the key's incomplete uploads are swept); throttling, 5xx and connection resets are
retried by the client's retry config. Every failure goes through ``harness.aws.errors.translate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.aws.errors import error_code, missing_object, translate
from harness.errors import AlreadyExists, RefusedError
from harness.objectstore.base import (
    BLOCK,
    LockState,
    Multipart,
    ObjectHead,
    ObjectMissing,
    ObjectStore,
    ObjectVersion,
    PutOptions,
    TransferCut,
)

_EXISTS = ("PreconditionFailed", "ConditionalRequestConflict")
_NO_LOCK_CONFIG = ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound")


def _put_args(options: PutOptions) -> dict[str, Any]:
    args: dict[str, Any] = {"ChecksumAlgorithm": "SHA256"}  # S3 rejects a body that does not match
    if options.sha256_b64:
        args["ChecksumSHA256"] = options.sha256_b64
    if options.encryption:
        args["ServerSideEncryption"] = options.encryption
    if options.kms_key:
        args["SSEKMSKeyId"] = options.kms_key
    if options.content_type:
        args["ContentType"] = options.content_type
    if options.metadata:
        args["Metadata"] = dict(options.metadata)
    if options.retention is not None:
        args["ObjectLockMode"] = options.retention.mode
        args["ObjectLockRetainUntilDate"] = options.retention.until
    return args


def _object_head(key: str, head: dict[str, Any]) -> ObjectHead:
    return ObjectHead(
        key=key,
        size=int(head["ContentLength"]),
        version_id=head.get("VersionId"),
        etag=str(head.get("ETag", "")),
        sha256=head.get("ChecksumSHA256"),
        parts=head.get("PartsCount"),
        metadata=head.get("Metadata") or {},
        encryption=head.get("ServerSideEncryption"),
        kms_key=head.get("SSEKMSKeyId"),
        lock=LockState(
            mode=head.get("ObjectLockMode"),
            until=head.get("ObjectLockRetainUntilDate"),
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        ),
    )


class S3ObjectStore(ObjectStore):
    """The objects of one bucket, through ``client`` (its retry config applies to every call)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise translate(exc, f"S3 HeadBucket {self.bucket} (does the bucket exist?)") from None

    def retention_enabled(self, *, what: str | None = None) -> bool:
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except Exception as exc:
            if error_code(exc)[0] in _NO_LOCK_CONFIG:
                return False
            raise translate(exc, what or f"S3 GetObjectLockConfiguration {self.bucket}") from None
        return bool(config.get("ObjectLockEnabled") == "Enabled")

    def part_size(self, size: int, multipart: Multipart) -> int | None:
        if size < multipart.threshold:
            return None
        from s3transfer.utils import ChunksizeAdjuster

        adjusted: int = ChunksizeAdjuster().adjust_chunksize(multipart.part_size, size)
        return adjusted

    def put(self, key: str, data: bytes, options: PutOptions, *, what: str | None = None) -> None:
        args = _put_args(options)
        if options.if_absent:
            args["IfNoneMatch"] = "*"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **args)
        except Exception as exc:
            if error_code(exc)[0] in _EXISTS:
                raise AlreadyExists(f"{self.uri(key)}: already exists") from None
            raise translate(exc, what or f"S3 PutObject {self.uri(key)}") from None

    def put_file(
        self, key: str, path: Path, options: PutOptions, multipart: Multipart, *, what: str | None = None
    ) -> None:
        """Run the transfer; on any failure abort what it left behind and raise a drill error (an
        interrupt is re-raised as it is, after the clean-up)."""
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(
            multipart_threshold=multipart.threshold,
            multipart_chunksize=multipart.part_size,
            max_concurrency=multipart.concurrency,
            use_threads=multipart.concurrency > 1,
        )
        try:
            with create_transfer_manager(self.client, config) as manager:
                manager.upload(str(path), self.bucket, key, extra_args=_put_args(options)).result()
        except BaseException as exc:
            try:
                aborted = self.abort_uploads(key)
                cleanup = f"; {aborted} incomplete multipart upload(s) aborted" if aborted else ""
            except Exception as sweep:
                cleanup = f"; could not confirm clean-up ({type(sweep).__name__})"
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            error = translate(exc, what or f"S3 upload of {self.uri(key)}")
            raise type(error)(f"{error}{cleanup}") from None

    def abort_uploads(self, key: str) -> int:
        """Abort every incomplete multipart upload of exactly ``key``; returns how many."""
        aborted = 0
        response = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in response.get("Uploads", []):
            if upload.get("Key") == key:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
                aborted += 1
        return aborted

    def head(
        self,
        key: str,
        version: str | None = None,
        *,
        part: int | None = None,
        checksum: bool = False,
        what: str | None = None,
    ) -> ObjectHead | None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if checksum:
            args["ChecksumMode"] = "ENABLED"
        if version:
            args["VersionId"] = version
        if part:
            args["PartNumber"] = part
        try:
            head: dict[str, Any] = self.client.head_object(**args)
        except Exception as exc:
            if missing_object(exc):
                return None
            raise translate(exc, what or f"S3 HeadObject {self.uri(key)}") from None
        return _object_head(key, head)

    def get(
        self,
        key: str,
        version: str | None = None,
        *,
        start: int = 0,
        if_match: str | None = None,
        what: str | None = None,
    ) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        what = what or f"S3 GetObject {self.uri(key)}"
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_match:
            args["IfMatch"] = if_match
        if version:
            args["VersionId"] = version
        if start:
            args["Range"] = f"bytes={start}-"
        try:
            body = self.client.get_object(**args)["Body"]
            while block := body.read(BLOCK):
                yield block
        except (BotoCoreError, HTTPError, ConnectionError) as exc:
            raise TransferCut(str(translate(exc, what))) from None
        except Exception as exc:
            if missing_object(exc):
                raise ObjectMissing(str(translate(exc, what))) from None
            raise translate(exc, what) from None

    def list_prefixes(self, prefix: str) -> list[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            return [p["Prefix"][len(prefix) : -1] for page in pages for p in page.get("CommonPrefixes", [])]
        except Exception as exc:
            raise translate(exc, f"S3 ListObjectsV2 {self.uri(prefix)}") from None

    def list_keys(self, prefix: str, *, what: str | None = None) -> list[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [str(obj["Key"]) for page in pages for obj in page.get("Contents", [])]
        except Exception as exc:
            raise translate(exc, what or f"S3 ListObjectsV2 {self.uri(prefix)}") from None

    def versions(self, prefix: str, *, what: str | None = None) -> list[ObjectVersion]:
        found: list[ObjectVersion] = []
        try:
            for page in self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for field, marker in (("Versions", False), ("DeleteMarkers", True)):
                    found += [
                        ObjectVersion(v["Key"], v["VersionId"], marker, bool(v.get("IsLatest")))
                        for v in page.get(field, [])
                    ]
        except Exception as exc:
            raise translate(exc, what or f"S3 ListObjectVersions {self.uri(prefix)}") from None
        return found

    def delete_version(self, key: str, version: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        except Exception as exc:
            if error_code(exc)[0] == "AccessDenied":
                raise RefusedError(f"{self.uri(key)}: S3 refused the delete (AccessDenied)") from None
            raise translate(exc, f"S3 DeleteObject {self.uri(key)}") from None
