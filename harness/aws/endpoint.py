"""Where AWS API calls go: an endpoint every provider yields (``harness.aws.providers``).

Code that talks to S3/KMS/IAM/STS asks it for boto3 clients and never cares which provider it
came from: only the endpoint URL and the credentials differ. Credentials for real AWS come from
the standard boto3 chain and are never stored, printed or written into evidence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REGION = "us-east-1"


def configured_region(region: str | None = None) -> str | None:
    """``region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (None when none is set)."""
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


@dataclass(frozen=True)
class AwsEndpoint:
    """Where AWS API calls go. ``repr`` and ``describe()`` never show credentials."""

    provider: str  # a name in harness.aws.providers.AWS_PROVIDERS
    region: str
    endpoint_url: str | None = None
    _credentials: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client with standard retries (throttling and 5xx are retried by botocore)."""
        import boto3
        from botocore.config import Config

        retries = config.pop("retries", {"max_attempts": 5, "mode": "standard"})
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=Config(retries=retries, **config),
            **self._credentials,
        )

    def describe(self) -> dict[str, Any]:
        return {"provider": self.provider, "region": self.region, "endpoint_url": self.endpoint_url}
