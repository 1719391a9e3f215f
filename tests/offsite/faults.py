"""Fault injection for the offsite tests: botocore event hooks and a small TCP proxy.

The proxy stands between boto3 and the real moto server. For requests a rule picks, it
resets the TCP connection in the middle of the request body (RST, as a dropped network
would), answers ``503 SlowDown`` like a throttling S3, or holds the request for a while
before passing it on (a slow link); everything else is passed through unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)

#: (method, target) -> None (pass through), "reset" (mid-request), "cut" (mid-response), "503"
#: or "stall" (forwarded after STALL_SECONDS)
Rule = Callable[[str, str], str | None]
STALL_SECONDS = 2.0


def is_upload_part(method: str, target: str) -> bool:
    return method == "PUT" and "partNumber=" in target


def first_n(n: int, match: Callable[[str, str], bool], action: str) -> Rule:
    """A rule applying ``action`` to the first ``n`` matching requests (n < 0: all of them)."""
    count = [0]
    lock = threading.Lock()

    def rule(method: str, target: str) -> str | None:
        if not match(method, target):
            return None
        with lock:
            count[0] += 1
            return action if n < 0 or count[0] <= n else None

    return rule


class FaultProxy:
    def __init__(self, upstream_port: int, rule: Rule) -> None:
        self.upstream_port = upstream_port
        self.rule = rule
        self.injected = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)
                if not chunk:
                    break
                head += chunk
        if b"\r\n\r\n" not in head:
            client.close()
            return
        method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
        action = self.rule(method, target)
        if action is None:
            self._forward(client, head)
            return
        self.injected += 1
        if action == "reset":
            self._reset(client, head)
        elif action == "cut":
            self._forward(client, head, cut_after=256 * 1024)
        elif action == "stall":
            time.sleep(STALL_SECONDS)
            self._forward(client, head)
        else:
            self._slowdown(client)

    def _reset(self, client: socket.socket, head: bytes) -> None:
        """Take part of the body, then drop the connection with a TCP RST."""
        with contextlib.suppress(OSError):
            if b"100-continue" in head.lower():
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            client.settimeout(2)
            client.recv(64 * 1024)
        with contextlib.suppress(OSError):
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()

    def _slowdown(self, client: socket.socket) -> None:
        response = (
            b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
            + f"Content-Length: {len(SLOWDOWN_BODY)}\r\nConnection: close\r\n\r\n".encode()
            + SLOWDOWN_BODY
        )
        with contextlib.suppress(OSError):
            client.sendall(response)
            client.shutdown(socket.SHUT_WR)
        client.close()

    def _forward(self, client: socket.socket, head: bytes, cut_after: int | None = None) -> None:
        """Relay the exchange; with ``cut_after``, reset the client after that many response bytes."""
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        upstream.sendall(head)

        def pipe(src: socket.socket, dst: socket.socket, limit: int | None = None) -> None:
            sent = 0
            with contextlib.suppress(OSError):
                while data := src.recv(1 << 16):
                    if limit is not None and sent + len(data) > limit:
                        dst.sendall(data[: limit - sent])
                        # Reset in the middle of the response body: linger 0 makes the final close an
                        # RST; SHUT_RD wakes the request pipe blocked on this socket so it closes it.
                        dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        dst.shutdown(socket.SHUT_RD)
                        return
                    dst.sendall(data)
                    sent += len(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pipe, args=(upstream, client, cut_after), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join(timeout=30)
        client.close()
        upstream.close()


@contextlib.contextmanager
def fault_proxy(upstream_url: str, rule: Rule) -> Iterator[FaultProxy]:
    port = int(upstream_url.rsplit(":", 1)[1])
    proxy = FaultProxy(port, rule).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def inject_status(client: Any, operation: str, status: int, code: str, times: int) -> list[int]:
    """Make the next ``times`` calls of ``operation`` (``-1``: all) answer ``status``/``code``
    through a botocore ``before-send`` hook; returns a one-item list counting injections."""
    from botocore.awsrequest import AWSResponse

    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>injected {code}</Message></Error>"
    ).encode()
    injected = [0]

    class _Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield body

    def hook(request: Any, **_: Any) -> Any:
        if times >= 0 and injected[0] >= times:
            return None
        injected[0] += 1
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw())

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return injected
