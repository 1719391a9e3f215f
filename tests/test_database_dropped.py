"""A server that accepts a connection and drops it at once (a restored server whose recovery just
failed does this) is a provider error naming the server, never an unexpected exception."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from harness.errors import ProviderError
from harness.postgres.database import Database


def _serve_once(listener: socket.socket) -> None:
    """Speak just enough of the PostgreSQL protocol: refuse SSL, trust the login, then close the
    socket on the first query."""
    conn, _ = listener.accept()
    with conn:
        while True:
            (length,) = struct.unpack("!I", conn.recv(4, socket.MSG_WAITALL))
            body = conn.recv(length - 4, socket.MSG_WAITALL)
            if body[:4] in (struct.pack("!I", 80877103), struct.pack("!I", 80877104)):  # SSL, GSS
                conn.sendall(b"N")
                continue
            break
        conn.sendall(b"R" + struct.pack("!II", 8, 0) + b"Z" + struct.pack("!I", 5) + b"I")
        conn.recv(1)  # the first byte of the first query: drop the connection here


@pytest.fixture
def dropping_server() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=_serve_once, args=(listener,), daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(timeout=5)


@pytest.mark.parametrize("autocommit", [True, False])
def test_a_connection_dropped_after_login_is_a_provider_error(dropping_server: int, autocommit: bool) -> None:
    db = Database("127.0.0.1", dropping_server, "postgres", "drill", "s3cret-pw", provider="embedded")
    with pytest.raises(ProviderError) as caught:
        db.connect(autocommit=autocommit, connect_timeout=5)
    text = str(caught.value)
    where = f"embedded postgres drill@127.0.0.1:{dropping_server}/postgres"
    assert text.startswith(f"{where} dropped the connection")
    assert "s3cret-pw" not in text
