"""Calling a webhook endpoint without becoming a way into the network (SSRF): the host is resolved here, every
address it resolves to must be public (loopback only where the local stack allows it), and the connection
goes to an address so checked, never to a name resolved again later (DNS rebinding). HTTPS with certificate
checks, no redirects followed, one 5-second deadline for the whole attempt, at most 64 KiB of the answer read.

`resolve` is this module's one way to turn a host into addresses; tests replace it (nothing resolves here)."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from urllib.parse import urlsplit

from sluice.models.webhook import (
    RESPONSE_EXCERPT,
    RESPONSE_MAX_BYTES,
    TIMEOUT_S,
    AttemptOutcome,
    UnsafeEndpoint,
    endpoint_parts,
    refused_address,
)

Resolver = Callable[[str, int], list[str]]
USER_AGENT = "Sluice-Webhooks/1"


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


resolve: Resolver = system_resolve


def checked_endpoint(url: str, allow_loopback: bool) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) of an endpoint webhooks may call; UnsafeEndpoint saying why not."""
    scheme, host, port = endpoint_parts(url, allow_loopback)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        raise UnsafeEndpoint(f"the host {host} does not resolve") from None
    if not addresses:
        raise UnsafeEndpoint(f"the host {host} does not resolve")
    for address in addresses:
        why = refused_address(address, allow_loopback)
        if why:
            raise UnsafeEndpoint(f"the host {host} resolves to {why}; webhooks go to public addresses only")
        if scheme == "http" and refused_address(address, allow_loopback=False) is None:
            raise UnsafeEndpoint("plain http is allowed only to loopback addresses")
    return scheme, host, port, addresses


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class _PinnedConnection(http.client.HTTPSConnection):
    """HTTP(S) to one checked address, with the endpoint's host name for the Host header, SNI and the
    certificate check."""

    def __init__(self, scheme: str, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_tls())
        self._scheme = scheme
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = _tls().wrap_socket(sock, server_hostname=self.host) if self._scheme == "https" else sock


def post(url: str, headers: dict[str, str], body: bytes, allow_loopback: bool = False) -> AttemptOutcome:
    """One attempt: POST the body; ok when the answer is 2xx. Never raises for what the endpoint does."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, addresses = checked_endpoint(url, allow_loopback)
    except UnsafeEndpoint as refused:
        return AttemptOutcome(ok=False, error=f"refused: {refused}", durationMs=elapsed_ms())
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = started + TIMEOUT_S
    connection = None
    watchdog = None
    try:
        connection = _connect(scheme, host, port, addresses, deadline)
        sock = connection.sock
        # one deadline for everything after the connection: a peer dripping bytes cannot stretch it
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (sock,))
        watchdog.daemon = True
        watchdog.start()
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        answer = _read_capped(response, deadline)
        status = response.status
    except TimeoutError:
        return AttemptOutcome(ok=False, error=f"timed out after {TIMEOUT_S:g} s", durationMs=elapsed_ms())
    except ssl.SSLError as exc:
        return AttemptOutcome(ok=False, error=f"TLS failed: {exc.reason or exc}", durationMs=elapsed_ms())
    except (OSError, http.client.HTTPException) as exc:
        timed_out = time.monotonic() >= deadline  # the watchdog cut the connection
        return AttemptOutcome(ok=False, durationMs=elapsed_ms(), error=f"timed out after {TIMEOUT_S:g} s"
                              if timed_out else f"connection failed: {_describe(exc)}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if connection is not None:
            connection.close()
    excerpt = answer.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT] or None
    ok = 200 <= status < 300
    error: str | None = None
    if 300 <= status < 400:
        error = "redirects are not followed; register the final URL"
    elif not ok:
        error = f"the endpoint answered {status}"
    return AttemptOutcome(ok=ok, responseCode=status, durationMs=elapsed_ms(), error=error, response=excerpt,
                          gone=status == 410)


def _connect(scheme: str, host: str, port: int, addresses: list[str], deadline: float) -> _PinnedConnection:
    failure: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection = _PinnedConnection(scheme, host, port, address, remaining)
        try:
            connection.connect()
            return connection
        except ssl.SSLError:
            connection.close()
            raise
        except OSError as exc:
            connection.close()
            failure = exc
    raise failure or OSError("no address to connect to")


def _read_capped(response: http.client.HTTPResponse, deadline: float) -> bytes:
    data = b""
    while len(data) < RESPONSE_MAX_BYTES:
        if time.monotonic() >= deadline:
            raise TimeoutError
        chunk = response.read(min(16384, RESPONSE_MAX_BYTES - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _cut(sock: socket.socket | None) -> None:
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
