"""``swarm serve``: a swarm's infrastructure in one process — its bootnodes (DHT only, no training, stable
identities) and the stage manager — with the bootnodes' addresses published to the contract."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.hosting.events import BootnodesPublished, BootnodeUp


def bootnode_identity(swarm_name: str, index: int, paths: Any = None) -> Path:
    """Bootnode ``index``'s identity file, created on first use: its peer id stays the same across runs."""
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.system.paths import app_paths

    paths = (paths or app_paths()).ensure()
    path = paths.identity_file(f"swarm-{swarm_name}-{index}")
    if not path.exists():
        create_identity(path)
    return path


def listed_bootnodes(swarm: Any) -> list[str]:
    """The bootnode multiaddrs a swarm file lists for its nodes, as ``swarm serve`` will run them: the
    announced public addresses, else the listening host when it is a concrete address. A swarm without
    a chain needs them (its nodes cannot read them from a contract)."""
    found: list[str] = []
    host = swarm.serve.host
    for index, port in enumerate(swarm.serve.ports):
        peer = bootnode_peer_id(swarm.name, index)
        public = [a.rstrip("/") for a in swarm.serve.announce if a.rstrip("/").endswith(f"/tcp/{port}")]
        if public:
            found += [f"{address}/p2p/{peer}" for address in public]
        elif port and host not in ("0.0.0.0", "::"):
            found.append(f"/{'ip6' if ':' in host else 'ip4'}/{host}/tcp/{port}/p2p/{peer}")
        else:
            raise ConfigError(
                f"the swarm's nodes cannot find bootnode {index} (host {host}, port {port}) without a chain",
                "give its public address with --announce /ip4/PUBLIC_IP/tcp/PORT and a fixed --port",
            )
    return found


def bootnode_peer_id(swarm_name: str, index: int = 0) -> str:
    from rlswarm_core.identity.keys import load_identity

    return load_identity(bootnode_identity(swarm_name, index)).peer_id


# what ``swarm serve`` reports as it runs (the rest of the bus is the stage manager's own chatter)
REPORTED_EVENTS = frozenset(
    {"BootnodeUp", "BootnodesPublished", "StageManagerAdvanced", "ChainUnavailable", "ChainRecovered"}
)


def reported(event: object) -> tuple[dict[str, Any], str] | None:
    """``(record, line)`` for an event ``swarm serve`` reports, else None."""
    kind = type(event).__name__
    if kind not in REPORTED_EVENTS:
        return None
    data = {"kind": kind, **event.__dict__}
    from rlswarm_core.settings.values import human_value

    shown = ", ".join(f"{k}={human_value(v)}" for k, v in data.items() if k not in ("kind", "at"))
    return data, f"{kind}: {shown}"


class SwarmServer:
    def __init__(
        self, swarm: Any, *, private_key: str | None, events: Any, max_rounds: int | None = None
    ) -> None:
        self.swarm = swarm
        self.private_key = private_key
        self.events = events
        self.max_rounds = max_rounds
        self.nodes: list[Any] = []
        self.manager_thread: threading.Thread | None = None
        self.wallet: Any = None
        self.reader: Any = None

    def start(self) -> SwarmServer:
        from rlswarm_core.swarm.dht import DHTOptions, start_node
        from rlswarm_core.swarm.reachability import serve_reachability

        serve = self.swarm.serve
        if not serve.ports:
            raise ConfigError(f"swarm {self.swarm.name!r} serves no bootnode", "list ports under serve.ports")
        self._connect_chain()
        # the file lists this server's own bootnodes too: a bootnode cannot bootstrap from itself
        own = {bootnode_peer_id(self.swarm.name, i) for i in range(len(serve.ports))}
        known = [m for m in self.swarm.bootnodes if m.rstrip("/").rsplit("/p2p/", 1)[-1] not in own]
        try:
            for index, port in enumerate(serve.ports):
                options = DHTOptions(
                    identity_path=bootnode_identity(self.swarm.name, index),
                    host=serve.host,
                    port=port,
                    announce_maddrs=tuple(a for a in serve.announce if a.endswith(f"/tcp/{port}")),
                    initial_peers=tuple(known),
                )
                node = start_node(options, self.events)
                self.nodes.append(node)
                # the swarm's nodes ask a bootnode to dial them back (join, doctor)
                serve_reachability(node)
                maddrs = tuple(node.visible_maddrs())
                known.extend(maddrs[:1])
                self.events.emit(BootnodeUp(peer_id=node.peer_id, maddrs=maddrs))
            self._publish_bootnodes()
        except BaseException:
            self.close()
            raise
        return self

    def _connect_chain(self) -> None:
        chain = self.swarm.chain
        if chain is None or not chain.contract:
            return
        from rlswarm_core.chain.reader import CoordinatorReader
        from rlswarm_core.hosting.chaincheck import check_swarm_chain

        self.reader = CoordinatorReader(chain.rpc_url, chain.contract, chain.chain_id)
        check_swarm_chain(self.swarm, self.reader)
        if self.private_key:
            from rlswarm_core.chain.wallet import WalletClient

            self.wallet = WalletClient(self.reader, self.private_key)

    def bootnode_maddrs(self) -> list[str]:
        found: list[str] = []
        for node in self.nodes:
            found.extend(node.visible_maddrs()[:1])
        return found

    def _publish_bootnodes(self) -> None:
        """Replace the contract's bootnode list with this server's addresses (nodes read them there)."""
        if self.wallet is None or not self.reader.has_role("BOOTNODE_MANAGER_ROLE", self.wallet.address):
            return
        maddrs = self.bootnode_maddrs()
        if self.reader.bootnodes() == maddrs:
            return
        self.wallet.transact("clearBootnodes")
        self.wallet.add_bootnodes(maddrs)
        self.events.emit(BootnodesPublished(contract=self.reader.address, maddrs=tuple(maddrs)))

    def can_manage_stages(self) -> bool:
        return self.wallet is not None and self.reader.has_role("STAGE_MANAGER_ROLE", self.wallet.address)

    def run(self, stop: threading.Event) -> None:
        """Run the stage manager until ``stop``: on the contract when this wallet holds the role, on the
        DHT for a swarm without a chain (the first bootnode signs the clock its nodes trust); else just
        serve the bootnodes."""
        from rlswarm_core.hosting.manager import StageManager
        from rlswarm_core.swarm.exchange import Exchange

        stages = self.swarm.stages
        exchange = Exchange(self.nodes[0], events=self.events)
        if self.swarm.chain is None:
            from rlswarm_core.swarm.coordinator import DHTCoordinator

            # resumes from the clock it signed before a restart, where the swarm's DHT still holds it
            coordinator: Any = DHTCoordinator(
                self.nodes[0], stages.count, is_coordinator=True, events=self.events
            )

            def publishers(rs: Any) -> set[str]:
                coordinator.tick()  # keeps the clock's record fresh through a long stage
                return self._publishers(exchange, rs)

        elif self.can_manage_stages():
            from rlswarm_core.chain.clock import ChainClock
            from rlswarm_core.chain.coordinator import ChainCoordinator

            coordinator = ChainCoordinator(
                ChainClock(self.reader), stage_manager=self.wallet, events=self.events
            )
            if coordinator.stage_count != stages.count:
                raise ConfigError(
                    f"the contract has {coordinator.stage_count} stages per round, "
                    f"the swarm file {stages.count}",
                    "set stages.count to the contract's stage count",
                )

            def publishers(rs: Any) -> set[str]:
                return self._publishers(exchange, rs)

        else:
            stop.wait()
            return
        manager = StageManager(
            coordinator,
            publishers,
            own_peer=self.nodes[0].peer_id,
            min_peers=stages.min_peers,
            grace_s=stages.grace_s,
            max_stage_s=stages.max_stage_s,
            events=self.events,
        )
        manager.run(stop, self.max_rounds)

    def _publishers(self, exchange: Any, rs: Any) -> set[str]:
        """Who published for ``rs``: the peers with a reward on the chain (what the chain counts, and
        readable even when this server's DHT has no connections yet, e.g. just after a restart) and the
        peers with a reward record in the DHT (the ones without a chain account or whose submission is
        still queued)."""
        from rlswarm_core.chain.errors import ChainError

        found = set(exchange.read_rewards(rs).rewards)
        if self.reader is None:  # a swarm without a chain
            return found
        # a chain outage must not stop the manager: the DHT's view and the schedule still apply
        with contextlib.suppress(ChainError):
            found |= self.reader.reward_submitters(rs.round, rs.stage)
        return found

    def close(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(Exception):
                node.shutdown()
        self.nodes.clear()
