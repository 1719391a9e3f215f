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
#: How often the serving thread checks for a shutdown (the longest a stop waits).
_POLL_SECONDS = 0.02


@contextlib.contextmanager
def embedded_moto(region: str = DEFAULT_REGION) -> Iterator[AwsEndpoint]:
    """moto's server as a real HTTP server on a free loopback port; stopped on exit (also on Ctrl-C)."""
    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server
    except ImportError as exc:
        raise ProviderError(
            f"the embedded AWS endpoint needs moto[server]: pip install 'moto[server]' ({exc})"
        ) from None
    import logging
    import threading

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log lines
    port = free_port()
    # What moto's ThreadedMotoServer runs, but serving with a short poll interval: its
    # serve_forever() notices a shutdown only every 0.5 s, so every stop waited up to that long.
    server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": _POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield AwsEndpoint(
            provider="embedded",
            region=region,
            endpoint_url=f"http://127.0.0.1:{port}",
            _credentials={"aws_access_key_id": _EMBEDDED_KEY, "aws_secret_access_key": _EMBEDDED_KEY},
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def open_endpoint(region: str | None, url: str | None) -> Iterator[AwsEndpoint]:
    """The registry's entry point: a fresh moto server (``url`` does not apply)."""
    with embedded_moto(region or DEFAULT_REGION) as endpoint:
        yield endpoint
