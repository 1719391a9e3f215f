"""The AWS endpoint for a one-off command (``drill posture|upload|fetch``, ``s3://`` inputs).

Outside a scenario the endpoint defaults to LocalStack when an endpoint URL is configured
(--endpoint-url, LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL, LOCALSTACK_HOST), else real AWS through
the standard credential chain; ``--aws-provider`` or ``DRILL_AWS_PROVIDER`` choose explicitly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from harness.aws.endpoint import AwsEndpoint
from harness.aws.providers import AWS_PROVIDERS, aws_endpoint, resolve_provider
from harness.errors import ConfigError

_ENDPOINT_VARS = ("LOCALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM (CI cancellation, ``kill``) into KeyboardInterrupt for the block, so a transfer
    in flight is aborted and cleaned up instead of the process dying with it (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cli_provider(explicit: str | None, endpoint_url: str | None = None) -> str:
    """The provider for a one-off command (see the module docstring)."""
    if explicit or os.environ.get("DRILL_AWS_PROVIDER"):
        return resolve_provider(explicit)
    if endpoint_url or any(os.environ.get(v) for v in _ENDPOINT_VARS):
        return "localstack"
    return "aws"


@contextlib.contextmanager
def endpoint_for(
    provider: str | None, region: str | None = None, url: str | None = None, *, ephemeral_ok: bool = False
) -> Iterator[AwsEndpoint]:
    chosen = cli_provider(provider, url)
    if AWS_PROVIDERS[chosen].ephemeral and not ephemeral_ok:
        raise ConfigError(
            "--aws-provider embedded starts an empty moto server that lives only as long as this command; "
            "use it in scenarios (or with `drill posture --provision`), or point at LocalStack or AWS"
        )
    if url and chosen != "localstack":
        raise ConfigError("--endpoint-url is only for --aws-provider localstack")
    with sigterm_interrupts(), aws_endpoint(chosen, region=region, url=url) as endpoint:
        yield endpoint
