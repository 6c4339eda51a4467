"""Coroutines the channel tests run in a node's DHT process (module-level, so they pickle by name)."""

from __future__ import annotations

import asyncio
from typing import Any


async def echo(_dht: Any, _node: Any, value: Any, delay: float = 0.0) -> Any:
    if delay:
        await asyncio.sleep(delay)
    return value


async def sized(_dht: Any, _node: Any, data: bytes, answer_bytes: int) -> tuple[int, bytes]:
    return len(data), b"y" * answer_bytes


async def fail(_dht: Any, _node: Any, message: str) -> None:
    raise ValueError(message)


async def calls_in_flight(dht: Any, _node: Any) -> int:
    """Calls the DHT process is still running for the channel, this one excluded."""
    _conn, tasks = dht._rlswarm_channel
    return len(tasks) - 1
