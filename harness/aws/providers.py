"""AWS endpoint providers: embedded moto server (default), a LocalStack-style endpoint, or real AWS.

All three yield an ``AwsEndpoint``; code that talks to S3/KMS/IAM/STS asks it
for boto3 clients and never cares which one it got: only the endpoint URL and
the credentials differ. Credentials for real AWS come from the standard boto3
chain and are never stored, printed or written into evidence.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError, ProviderError
from harness.net import free_port

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
    port = free_port()
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


def _localstack_client_endpoint() -> str | None:
    """The S3 endpoint by localstack-client conventions (LOCALSTACK_HOST, USE_SSL), if configured."""
    if not os.environ.get("LOCALSTACK_HOST"):
        return None
    try:
        from localstack_client.config import get_service_endpoint
    except ImportError:
        host = os.environ["LOCALSTACK_HOST"]
        scheme = "https" if os.environ.get("USE_SSL") in ("1", "true") else "http"
        return f"{scheme}://{host if ':' in host else host + ':4566'}"
    endpoint: str | None = get_service_endpoint("s3")
    return endpoint


def localstack_endpoint(url: str | None = None, region: str | None = None) -> AwsEndpoint:
    """A running LocalStack-style endpoint: ``url``, else ``LOCALSTACK_ENDPOINT``/``AWS_ENDPOINT_URL``,
    else localstack-client's ``LOCALSTACK_HOST`` (with ``USE_SSL``)."""
    endpoint = (
        url
        or os.environ.get("LOCALSTACK_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL")
        or _localstack_client_endpoint()
    )
    if not endpoint:
        raise ConfigError(
            "the localstack provider needs an endpoint URL "
            "(set LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL or LOCALSTACK_HOST)"
        )
    return AwsEndpoint(
        provider="localstack",
        region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
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
        try:
            endpoint = localstack_endpoint(url, region)
        except ConfigError as exc:
            # No running endpoint configured: start a pinned LocalStack container if Docker is there.
            from harness.containers import DockerUnavailable, docker_status

            status = docker_status()
            if not status.available:
                raise DockerUnavailable(
                    f"{exc}, or a Docker daemon to start {LOCALSTACK_IMAGE}: {status.reason}"
                ) from None
            with localstack_container(region or DEFAULT_REGION) as started:
                yield started
        else:
            yield endpoint
    elif provider == "aws":
        yield real_aws(region)
    else:
        raise ConfigError(f"unknown AWS provider {provider!r} (embedded, localstack or aws)")


# -- additions for the offsite lane (issue 3): provider choice and a LocalStack container ---------
AWS_PROVIDERS = ("embedded", "localstack", "aws")
#: A free community 4.x tag (``latest`` needs LOCALSTACK_AUTH_TOKEN); override with DRILL_LOCALSTACK_IMAGE.
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"


def resolve_provider(explicit: str | None = None, configured: str | None = None) -> str:
    """Command line beats scenario beats ``DRILL_AWS_PROVIDER``; the default is ``embedded``."""
    provider = explicit or configured or os.environ.get("DRILL_AWS_PROVIDER") or "embedded"
    if provider not in AWS_PROVIDERS:
        raise ConfigError(f"unknown AWS provider {provider!r} ({', '.join(AWS_PROVIDERS)})")
    return provider


@contextlib.contextmanager
def localstack_container(region: str = DEFAULT_REGION, image: str | None = None) -> Iterator[AwsEndpoint]:
    """LocalStack in a testcontainers container (needs Docker); LOCALSTACK_AUTH_TOKEN is passed through
    to the container only, for images that require it. Stopped on exit."""
    from harness.containers import require_docker, started

    image = image or os.environ.get("DRILL_LOCALSTACK_IMAGE") or LOCALSTACK_IMAGE
    require_docker(f"the localstack provider ({image})")
    try:
        from testcontainers.community.localstack import LocalStackContainer
    except ImportError as exc:
        raise ProviderError(f"the localstack container needs testcontainers[localstack] ({exc})") from None
    container = LocalStackContainer(image=image, region_name=region).with_services("s3", "kms", "sts", "iam")
    token = os.environ.get("LOCALSTACK_AUTH_TOKEN")
    if token:
        container = container.with_env("LOCALSTACK_AUTH_TOKEN", token)
    with started(container, image):
        yield AwsEndpoint(
            provider="localstack",
            region=region,
            endpoint_url=container.get_url(),
            _credentials={"aws_access_key_id": "test", "aws_secret_access_key": "test"},
        )
