"""Provider selection: Docker daemon detection, LocalStack endpoint conventions, provider precedence."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from harness.aws.localstack import localstack_endpoint
from harness.aws.providers import aws_endpoint, resolve_provider
from harness.containers import DockerUnavailable, docker_status
from harness.errors import ConfigError, ProviderError
from harness.postgres.docker import docker_postgres


class _FakeDockerApi(BaseHTTPRequestHandler):
    """Just enough of the Docker Engine API to answer a ping; every other call is a 500."""

    def do_GET(self) -> None:
        if self.path.endswith("/_ping"):
            self._reply(200, b"OK", "text/plain")
        elif self.path.endswith("/version"):
            self._reply(200, json.dumps({"Version": "99.0-fake", "ApiVersion": "1.44"}).encode())
        else:
            self._reply(500, b'{"message": "fake daemon: not implemented"}')

    do_POST = do_GET

    def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # type: ignore[no-untyped-def]
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port) client address


@pytest.fixture
def fake_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = tmp_path / "docker.sock"
    server = _UnixHttpServer(str(path), _FakeDockerApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield str(path)
    server.shutdown()
    server.server_close()


def test_no_daemon_is_detected_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    status = docker_status()
    assert not status.available
    assert status.reason.startswith("no Docker daemon is reachable at unix:///nonexistent/docker.sock")
    with (
        pytest.raises(DockerUnavailable, match="the docker PostgreSQL provider needs Docker"),
        docker_postgres(),
    ):
        pass


def test_closed_tcp_port_is_not_a_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    status = docker_status(timeout=2)
    assert not status.available
    assert f"tcp://127.0.0.1:{port}" in status.reason


def test_a_daemon_that_answers_is_detected(fake_daemon: str) -> None:
    status = docker_status()
    assert status.available, status.reason
    assert "99.0-fake" in status.reason


def test_container_start_failure_is_a_provider_error(
    fake_daemon: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    with pytest.raises(ProviderError, match=r"cannot start postgres:16-alpine"), docker_postgres():
        pass


def test_localstack_endpoint_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LOCALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="LOCALSTACK_HOST"):
        localstack_endpoint()
    monkeypatch.setenv("LOCALSTACK_HOST", "localstack.internal:4567")
    assert localstack_endpoint().endpoint_url == "http://localstack.internal:4567"
    monkeypatch.setenv("USE_SSL", "true")
    assert localstack_endpoint().endpoint_url == "https://localstack.internal:4567"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert localstack_endpoint().endpoint_url == "http://127.0.0.1:4566"
    assert localstack_endpoint("http://explicit:1").endpoint_url == "http://explicit:1"
    assert "test" not in repr(localstack_endpoint())  # credentials never shown


def test_localstack_without_endpoint_needs_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LOCALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with (
        pytest.raises(DockerUnavailable, match=r"localstack/localstack:4\.14\.0"),
        aws_endpoint("localstack"),
    ):
        pass


def test_provider_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRILL_AWS_PROVIDER", raising=False)
    assert resolve_provider() == "embedded"
    assert resolve_provider(None, "aws") == "aws"
    assert resolve_provider("localstack", "aws") == "localstack"
    monkeypatch.setenv("DRILL_AWS_PROVIDER", "aws")
    assert resolve_provider() == "aws"
    with pytest.raises(ConfigError, match="unknown AWS provider 'gcp'"):
        resolve_provider("gcp")
