"""Connecting to a Dask scheduler without hanging or crashing on something that is not one.

Two failures seen with ``Client(address, timeout=10)`` alone: a server that accepts the
connection and never answers kept it waiting for minutes (the timeout does not cover the
handshake), and a server that answers with other bytes (an HTTP server) made it allocate what
the first 8 bytes claim as a frame length: ``MemoryError: 3.07 EiB``. So, two guards:

1. A probe with a plain socket first (tcp addresses): a Dask scheduler sends its handshake as
   soon as it accepts, a frame that starts with two little-endian 8-byte counts, the bytes that
   follow and the number of frames (``distributed/comm/tcp.py``: 58 and 1 for a real handshake).
   We wait at most PROBE_SECONDS for those 16 bytes and check that they are plausible (a few
   frames, under 1 MiB in all). A silent server, an HTTP server (it waits for a request) or
   anything else fails here, naming the address, before Dask reads a byte.
2. The ``Client`` itself is made in a helper thread that we wait for at most CONNECT_SECONDS:
   if a server passes the probe and then stalls, the caller gets an error in time (the helper
   thread is left to finish on its own and closes the client if it ever connects).
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

from nn.core.settings import ConfigError

PROBE_SECONDS = 5.0
CONNECT_SECONDS = 10.0
MAX_HANDSHAKE_BYTES = 1 << 20
MAX_HANDSHAKE_FRAMES = 64


def _error(address: str, why: str) -> ConfigError:
    return ConfigError("scheduler", f"scheduler (--scheduler): could not connect to a Dask scheduler "
                                    f"at {address!r} ({why})")


def tcp_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a tcp address ("tcp://host:8786" or "host:8786"), None for other
    protocols (inproc, tls, ws: not probed); ConfigError if it cannot be read."""
    from distributed.comm.addressing import parse_address, parse_host_port
    try:
        scheme, location = parse_address(address)
        if scheme != "tcp":
            return None
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise _error(address, f"not an address like tcp://host:8786: {exc}") from None
    if not port:
        raise _error(address, "no port; e.g. tcp://host:8786")
    return host, int(port)


def looks_like_dask(header: bytes) -> bool:
    """True if 16 bytes are how a Dask frame starts: its size, then its number of frames."""
    if len(header) < 16:
        return False
    size, frames = struct.unpack("<QQ", header[:16])
    return 1 <= frames <= MAX_HANDSHAKE_FRAMES and 8 + 8 * frames <= size <= MAX_HANDSHAKE_BYTES


def probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Check that ``address`` answers like a Dask scheduler, within ``timeout`` seconds in all;
    ConfigError naming the address otherwise."""
    endpoint = tcp_endpoint(address)
    if endpoint is None:
        return
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(endpoint, timeout=timeout) as sock:
            header = b""
            while len(header) < 16:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout
                sock.settimeout(left)
                chunk = sock.recv(16 - len(header))
                if not chunk:
                    raise _error(address, "it closed the connection without a Dask handshake")
                header += chunk
    except socket.timeout:
        raise _error(address, f"it did not answer like a Dask scheduler within {timeout:g} s") from None
    except OSError as exc:
        raise _error(address, str(exc) or type(exc).__name__) from None
    if not looks_like_dask(header):
        raise _error(address, "it answered, but not like a Dask scheduler")


def connect(address: str, probe_timeout: float = PROBE_SECONDS,
            connect_timeout: float = CONNECT_SECONDS) -> Any:
    """A ``dask.distributed.Client`` for ``address``, or ConfigError naming it within about
    ``probe_timeout + connect_timeout`` seconds."""
    probe(address, probe_timeout)
    from dask.distributed import Client
    box: dict[str, Any] = {}
    gave_up = threading.Event()

    def make() -> None:
        try:
            client = Client(address, timeout=connect_timeout, set_as_default=False)
        except BaseException as exc:       # MemoryError, OSError, TimeoutError, ...
            box["error"] = exc
            return
        if gave_up.is_set():
            client.close()
        else:
            box["client"] = client
    thread = threading.Thread(target=make, name="dask-connect", daemon=True)
    thread.start()
    thread.join(connect_timeout + 1)
    if thread.is_alive():
        gave_up.set()
        if "client" in box:                  # connected just now: too late, but do not leak it
            box["client"].close()
        raise _error(address, f"no answer within {connect_timeout:g} s")
    if "error" in box:
        exc = box["error"]
        raise _error(address, str(exc) or type(exc).__name__)
    return box["client"]
