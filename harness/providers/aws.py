"""AWS endpoint providers: embedded moto server (default), a LocalStack-style endpoint, or real AWS.

All three yield an ``AwsEndpoint``; code that talks to S3/KMS/IAM/STS asks it
for boto3 clients and never cares which one it got: only the endpoint URL and
the credentials differ. Credentials for real AWS come from the standard boto3
chain and are never stored, printed or written into evidence.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, ProviderError

DEFAULT_REGION = "us-east-1"
# Fixed, obviously fake credentials for the embedded endpoint (moto accepts anything).
_EMBEDDED_KEY = "testing"


@dataclass(frozen=True)
class AwsEndpoint:
    """Where AWS API calls go. ``repr`` and ``describe()`` never show credentials."""

    provider: str  # embedded | localstack | aws
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def embedded_moto(region: str = DEFAULT_REGION) -> Iterator[AwsEndpoint]:
    """moto's server as a real HTTP server on a free loopback port; stopped on exit (also on Ctrl-C)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ProviderError(
            f"the embedded AWS endpoint needs moto[server]: pip install 'moto[server]' ({exc})"
        ) from None
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log lines
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield AwsEndpoint(
            provider="embedded",
            region=region,
            endpoint_url=f"http://127.0.0.1:{port}",
            _credentials={"aws_access_key_id": _EMBEDDED_KEY, "aws_secret_access_key": _EMBEDDED_KEY},
        )
    finally:
        server.stop()


def localstack_endpoint(url: str | None = None, region: str | None = None) -> AwsEndpoint:
    """A running LocalStack-style endpoint: ``url``, else ``LOCALSTACK_ENDPOINT``/``AWS_ENDPOINT_URL``."""
    endpoint = url or os.environ.get("LOCALSTACK_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise ConfigError(
            "the localstack provider needs an endpoint URL (set LOCALSTACK_ENDPOINT or AWS_ENDPOINT_URL)"
        )
    return AwsEndpoint(
        provider="localstack",
        region=region or os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
        endpoint_url=endpoint,
        _credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"},
    )


def real_aws(region: str | None = None) -> AwsEndpoint:
    """Real AWS via the standard boto3 credential chain (env, profile, OIDC web identity, role)."""
    resolved = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not resolved:
        raise ConfigError(
            "the aws provider needs a region (scenario aws.region, AWS_REGION or AWS_DEFAULT_REGION)"
        )
    return AwsEndpoint(provider="aws", region=resolved)


@contextlib.contextmanager
def aws_endpoint(
    provider: str = "embedded", *, region: str | None = None, url: str | None = None
) -> Iterator[AwsEndpoint]:
    """The endpoint for ``provider``; embedded ones are started and stopped here."""
    if provider == "embedded":
        with embedded_moto(region or DEFAULT_REGION) as endpoint:
            yield endpoint
    elif provider == "localstack":
        yield localstack_endpoint(url, region)
    elif provider == "aws":
        yield real_aws(region)
    else:
        raise ConfigError(f"unknown AWS provider {provider!r} (embedded, localstack or aws)")
