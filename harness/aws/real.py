"""The ``aws`` provider: real AWS through the standard boto3 credential chain (environment, profile,
OIDC web identity, instance role). Nothing is stored: the chain is asked on every client."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from harness.aws.endpoint import AwsEndpoint, configured_region
from harness.errors import ConfigError


def real_aws(region: str | None = None) -> AwsEndpoint:
    """Real AWS in ``region`` (else AWS_REGION / AWS_DEFAULT_REGION; one is required)."""
    resolved = configured_region(region)
    if not resolved:
        raise ConfigError(
            "the aws provider needs a region (scenario aws.region, AWS_REGION or AWS_DEFAULT_REGION)"
        )
    return AwsEndpoint(provider="aws", region=resolved)


@contextlib.contextmanager
def open_endpoint(region: str | None, url: str | None) -> Iterator[AwsEndpoint]:
    """The registry's entry point (``url`` does not apply: real AWS has its own endpoints)."""
    yield real_aws(region)
