"""Events about the node's link to the chain: outages of the RPC endpoint and their end.

They share the swarm's event bus, so the journal, the live panel and the metrics exporter see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlswarm_core.swarm.events import Event


@dataclass(frozen=True)
class ChainUnavailable(Event):
    """The RPC endpoint stopped answering; the node keeps training and retries with backoff."""

    operation: str
    message: str
    retry_in_s: float


@dataclass(frozen=True)
class ChainRecovered(Event):
    """The RPC endpoint answers again after ``down_s`` seconds."""

    down_s: float
