"""What a swarm looks like from outside: its clock, submissions, bootnodes and stage manager's health."""

from __future__ import annotations

import re
import socket
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_QUIET_S = 1800.0
_TCP = re.compile(r"^/(ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)")


@dataclass
class BootnodeState:
    maddr: str
    reachable: bool


@dataclass
class SwarmStatus:
    name: str
    chain_id: int | None
    contract: str | None
    round: int | None = None
    stage: int | None = None
    stage_count: int | None = None
    peers_seen: int = 0
    submissions: dict[str, int] = field(default_factory=dict)  # "round/stage" -> rewards submitted
    bootnodes: list[BootnodeState] = field(default_factory=list)
    last_advance_age_s: float | None = None
    quiet_s: float = DEFAULT_QUIET_S

    @property
    def stage_manager_healthy(self) -> bool | None:
        if self.last_advance_age_s is None:
            return None
        return self.last_advance_age_s < self.quiet_s

    @property
    def looks_stopped(self) -> bool:
        """No round progress for ``quiet_s`` and no reachable bootnode: the swarm is gone."""
        live_bootnode = any(b.reachable for b in self.bootnodes)
        return not live_bootnode and self.stage_manager_healthy is not True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stage_manager_healthy"] = self.stage_manager_healthy
        data["looks_stopped"] = self.looks_stopped
        return data


def tcp_reachable(maddr: str, timeout_s: float = 3.0) -> bool:
    """Whether something accepts a TCP connection at the multiaddr's host and port."""
    match = _TCP.match(maddr)
    if not match:
        return False
    try:
        with socket.create_connection((match.group(2), int(match.group(3))), timeout=timeout_s):
            return True
    except OSError:
        return False


def swarm_status(swarm: Any, *, quiet_s: float = DEFAULT_QUIET_S, rounds: int = 3) -> SwarmStatus:
    chain = swarm.chain
    status = SwarmStatus(
        swarm.name, chain.chain_id if chain else None, chain.contract if chain else None, quiet_s=quiet_s
    )
    maddrs = list(swarm.bootnodes)
    if chain is not None and chain.contract:
        from rlswarm_core.chain.reader import CoordinatorReader
        from rlswarm_core.hosting.chaincheck import check_swarm_chain

        reader = CoordinatorReader(chain.rpc_url, chain.contract, chain.chain_id)
        check_swarm_chain(swarm, reader)
        status.round, status.stage = reader.round_and_stage()
        status.stage_count = reader.stage_count()
        maddrs += [m for m in reader.bootnodes() if m not in maddrs]
        _read_logs(reader, status, rounds)
    status.bootnodes = [BootnodeState(m, tcp_reachable(m)) for m in maddrs]
    return status


def _read_logs(reader: Any, status: SwarmStatus, rounds: int) -> None:
    from rlswarm_core.chain.reader import LOG_LOOKBACK_BLOCKS

    latest = int(reader.rpc(lambda: reader.w3.eth.block_number, "read the block number"))
    start = max(0, latest - LOG_LOOKBACK_BLOCKS)
    events = reader.contract.events

    def logs(event: Any) -> list[Any]:
        return reader.rpc(lambda: event.get_logs(from_block=start, to_block=latest), "read the logs")

    rewards = logs(events.RewardSubmitted())
    first_round = max(0, (status.round or 0) - rounds + 1)
    counts: Counter[str] = Counter()
    peers: set[str] = set()
    for entry in rewards:
        args = entry["args"]
        peers.add(str(args["peerId"]))
        if int(args["roundNumber"]) >= first_round:
            counts[f"{int(args['roundNumber'])}/{int(args['stageNumber'])}"] += 1
    status.peers_seen = len(peers)
    status.submissions = dict(sorted(counts.items()))
    advances = logs(events.StageAdvanced()) + logs(events.RoundAdvanced())
    if advances:
        block = max(int(a["blockNumber"]) for a in advances)
        stamp = reader.rpc(lambda: reader.w3.eth.get_block(block)["timestamp"], "read a block")
        status.last_advance_age_s = max(0.0, time.time() - float(stamp))
