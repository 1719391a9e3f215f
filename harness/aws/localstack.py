"""The ``localstack`` AWS provider: a running LocalStack-style endpoint, or with none configured and a
Docker daemon reachable, a pinned LocalStack container started for the run (``harness.containers``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from harness.aws.endpoint import DEFAULT_REGION, AwsEndpoint, configured_region
from harness.errors import ConfigError, ProviderError

#: A free community 4.x tag (``latest`` needs LOCALSTACK_AUTH_TOKEN); override with DRILL_LOCALSTACK_IMAGE.
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


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
        region=configured_region(region) or DEFAULT_REGION,
        endpoint_url=endpoint,
        _credentials=dict(_CREDENTIALS),
    )


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
            _credentials=dict(_CREDENTIALS),
        )


@contextlib.contextmanager
def open_endpoint(region: str | None, url: str | None) -> Iterator[AwsEndpoint]:
    """The registry's entry point: the configured endpoint, else a container if Docker is there."""
    try:
        endpoint = localstack_endpoint(url, region)
    except ConfigError as exc:
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
