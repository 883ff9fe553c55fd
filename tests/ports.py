"""A free TCP port on 127.0.0.1 for a server a test starts.

The kernel picks it (port 0), so tests running at once in several xdist workers never pick the
same one, as they could from a fixed range."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
