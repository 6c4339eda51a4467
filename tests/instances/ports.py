"""Free TCP ports for instance tests."""

from __future__ import annotations

import socket


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free TCP ports, away from 38331 so real nodes never clash."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        ok = True
        for port in range(base, base + count):
            with socket.socket() as sock:
                try:
                    sock.bind(("0.0.0.0", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports")
