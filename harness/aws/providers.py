"""The AWS provider registry: embedded moto server (default), a LocalStack-style endpoint, or real AWS.

Each provider is a module (``embedded.py``, ``localstack.py``, ``real.py``) whose ``open_endpoint``
yields an :class:`~harness.aws.endpoint.AwsEndpoint`; a new one is a module and a line in
``AWS_PROVIDERS``. Command-line choices and the packaged schemas' ``aws.provider`` enums follow
this registry (a test keeps the schemas equal to it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from harness.aws.endpoint import AwsEndpoint
from harness.errors import ConfigError
from harness.registry import load

#: ``open_endpoint(region, url)``: a context manager yielding the endpoint, stopped on exit.
EndpointFactory = Callable[[str | None, str | None], AbstractContextManager[AwsEndpoint]]


@dataclass(frozen=True)
class AwsProvider:
    """One registry line: where the provider's ``open_endpoint`` lives, and whether its endpoint is
    ephemeral (its data lives only as long as this process: no use to a one-off command)."""

    factory: str
    ephemeral: bool = False


AWS_PROVIDERS: dict[str, AwsProvider] = {
    "embedded": AwsProvider("harness.aws.embedded:open_endpoint", ephemeral=True),
    "localstack": AwsProvider("harness.aws.localstack:open_endpoint"),
    "aws": AwsProvider("harness.aws.real:open_endpoint"),
}
#: The providers whose data outlives the process: the only choices for one-off ``s3://`` commands.
DURABLE_AWS_PROVIDERS = tuple(name for name, entry in AWS_PROVIDERS.items() if not entry.ephemeral)


def provider_entry(name: str) -> AwsProvider:
    try:
        return AWS_PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"unknown AWS provider {name!r} ({', '.join(AWS_PROVIDERS)})") from None


def resolve_provider(explicit: str | None = None, configured: str | None = None) -> str:
    """Command line beats scenario beats ``DRILL_AWS_PROVIDER``; the default is ``embedded``."""
    provider = explicit or configured or os.environ.get("DRILL_AWS_PROVIDER") or "embedded"
    provider_entry(provider)
    return provider


@contextlib.contextmanager
def aws_endpoint(
    provider: str = "embedded", *, region: str | None = None, url: str | None = None
) -> Iterator[AwsEndpoint]:
    """The endpoint for ``provider``; embedded ones (server or container) are started and stopped here."""
    factory: EndpointFactory = load(provider_entry(provider).factory)
    with factory(region, url) as endpoint:
        yield endpoint
