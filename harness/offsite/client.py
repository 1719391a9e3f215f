"""The S3 client every offsite transfer uses: standard retries within the transfer's budget."""

from __future__ import annotations

from typing import Any

from harness.aws.endpoint import AwsEndpoint
from harness.offsite.settings import TransferSettings


def s3_client(endpoint: AwsEndpoint, transfer: TransferSettings | None = None) -> Any:
    """An S3 client with the transfer's retry budget (standard mode: throttling, 5xx, resets)."""
    transfer = transfer or TransferSettings()
    return endpoint.client(
        "s3",
        retries={"total_max_attempts": transfer.max_attempts, "mode": "standard"},
        max_pool_connections=max(10, transfer.max_concurrency + 2),
        response_checksum_validation="when_required",  # fetch verifies checksums itself
    )
