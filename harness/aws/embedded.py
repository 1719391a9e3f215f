"""The ``embedded`` AWS provider (the default): moto's server on a free loopback port, no Docker, no
account. It lives only as long as this process, with fixed, obviously fake credentials."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from harness.aws.endpoint import DEFAULT_REGION, AwsEndpoint
from harness.errors import ProviderError
from harness.net import free_port

# moto accepts any credentials.
_EMBEDDED_KEY = "testing"


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


@contextlib.contextmanager
def open_endpoint(region: str | None, url: str | None) -> Iterator[AwsEndpoint]:
    """The registry's entry point: a fresh moto server (``url`` does not apply)."""
    with embedded_moto(region or DEFAULT_REGION) as endpoint:
        yield endpoint
