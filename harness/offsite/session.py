"""One drill's offsite work: endpoint, provisioning, posture, upload and fetch, plus its evidence.

A lane owns one ``OffsiteSession``; its steps call :meth:`posture`, :meth:`upload` and
:meth:`fetch`, each returning the step message. The endpoint (embedded moto, LocalStack or
real AWS) is entered into the lane's exit stack, so it stops with the lane.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from harness.aws.endpoint import AwsEndpoint
from harness.aws.providers import aws_endpoint, resolve_provider
from harness.errors import StepSkipped, VerificationFailed
from harness.offsite.client import s3_client
from harness.offsite.fetch import FetchResult, fetch_archive
from harness.offsite.keys import S3Uri
from harness.offsite.posture import PostureReport, check_posture
from harness.offsite.provision import provision_bucket
from harness.offsite.settings import OffsiteSettings
from harness.offsite.upload import UploadResult, upload_archive


class OffsiteSession:
    def __init__(
        self,
        settings: OffsiteSettings,
        stack: contextlib.ExitStack,
        provider_override: str | None = None,
        endpoint: AwsEndpoint | None = None,
    ) -> None:
        """``endpoint``: one already running to share (a stand-in writing where a drill then reads);
        else the session opens its own on first use."""
        self.settings = settings
        self.provider = (
            endpoint.provider if endpoint else resolve_provider(provider_override, settings.aws.provider)
        )
        self._stack = stack
        self.endpoint: AwsEndpoint | None = endpoint
        self.s3: Any = None
        self.provisioned: dict[str, Any] | None = None
        self.report: PostureReport | None = None
        self.uploaded: UploadResult | None = None
        self.fetched: FetchResult | None = None

    def start(self) -> AwsEndpoint:
        """Start or reach the endpoint; skip (never pass) when it needs Docker and none is there."""
        if self.endpoint is None:
            from harness.containers import DockerUnavailable

            aws = self.settings.aws
            try:
                self.endpoint = self._stack.enter_context(
                    aws_endpoint(self.provider, region=aws.region, url=aws.endpoint_url)
                )
            except DockerUnavailable as exc:
                raise StepSkipped(f"AWS provider {self.provider}: {exc}") from None
        if self.s3 is None:
            self.s3 = s3_client(self.endpoint, self.settings.transfer)
        return self.endpoint

    def posture(self) -> str:
        endpoint = self.start()
        s = self.settings
        lead = ""
        if s.should_provision(self.provider):
            kms = endpoint.client("kms")
            self.provisioned = provision_bucket(self.s3, kms, s.bucket, s.storage, endpoint.region)
            lead = f"provisioned s3://{s.bucket} on {self.provider}; "
        self.report = check_posture(self.s3, s.bucket, s.prefix, s.posture, endpoint.region)
        if self.report.passed:
            return lead + self.report.summary()
        if self.report.warn_only:
            return f"{lead}WARN-ONLY, upload allowed: {self.report.summary()}"
        raise VerificationFailed(f"upload blocked: {self.report.summary()}")

    def upload(self, archive: Path, manifest: dict[str, Any], sha256: str) -> str:
        assert self.report is not None, "posture runs before every upload"
        s = self.settings
        self.uploaded = upload_archive(
            self.s3,
            archive,
            bucket=s.bucket,
            prefix=s.prefix,
            environment=s.environment,
            name=s.name,
            posture=self.report,
            transfer=s.transfer,
            manifest=manifest,
            expected_sha256=sha256,
        )
        u = self.uploaded
        how = f"{u.parts} parts" if u.parts > 1 else "single PUT"
        return (
            f"{u.uri} version {u.version_id} ({u.size_bytes} bytes, {how}, {u.sse}, "
            f"store checksum verified, {u.mb_per_second:.1f} MB/s)"
        )

    def fetch(self, dest_dir: Path) -> str:
        assert self.uploaded is not None, "fetch needs an upload"
        assert self.endpoint is not None
        u = self.uploaded

        self.fetched = fetch_archive(
            self.s3,
            S3Uri(u.uri.bucket, u.uri.key, u.version_id),
            dest_dir,
            region=self.endpoint.region,
            expected_sha256=u.sha256,
        )
        f = self.fetched
        return (
            f"fetched {f.size_bytes} bytes of {f.uri} ({f.mb_per_second:.1f} MB/s); "
            f"verified against {', '.join(f.checks)}"
        )

    def sections(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "endpoint": self.endpoint.describe() if self.endpoint else None,
            "bucket": self.settings.bucket,
            "prefix": self.settings.prefix,
            "provisioned": self.provisioned,
            "posture": self.report.to_dict() if self.report else None,
            "upload": self.uploaded.to_dict() if self.uploaded else None,
            "fetch": self.fetched.to_dict() if self.fetched else None,
        }
        return out
