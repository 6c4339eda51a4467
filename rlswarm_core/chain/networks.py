"""Named networks: where the coordinator contract lives and which chain it is on.

``local`` is a swarm with no chain (the DHT drives rounds); ``devnet`` is the chain started by
``rlswarm devnet up`` (its RPC URL and contract address are read from the state file it writes);
``testnet`` is the public network. Any field can be overridden, e.g. to point at another RPC provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.system.paths import app_paths

TESTNET_CHAIN_ID = 685685
TESTNET_RPC_URL = "https://gensyn-testnet.g.alchemy.com/public"
TESTNET_CONTRACT = "0xFaD7C5e93f28257429569B854151A1B8DCD404c2"
DEVNET_CHAIN_ID = 31337
NETWORK_NAMES = ("local", "devnet", "testnet", "swarm")
DEVNET_STATE_FILE = "devnet.json"


@dataclass(frozen=True)
class Network:
    name: str
    chain_id: int | None
    rpc_url: str | None
    contract: str | None

    @property
    def has_chain(self) -> bool:
        return self.chain_id is not None

    def require_chain(self) -> Network:
        """This network, or a clear error when it lacks an RPC URL, chain id or contract address."""
        if not self.has_chain:
            raise ConfigError(
                f"network {self.name!r} has no chain: rounds come from the DHT",
                "choose --network devnet or --network testnet for on-chain coordination",
            )
        devnet_hint = "start one with `rlswarm devnet up`" if self.name == "devnet" else None
        if not self.rpc_url:
            raise ConfigError(
                f"network {self.name!r} has no RPC URL", devnet_hint or "pass --rpc-url or set rpc_url"
            )
        if not self.contract:
            raise ConfigError(
                f"network {self.name!r} has no coordinator contract address",
                devnet_hint or "pass --contract or set contract",
            )
        return self


def devnet_state_path() -> Path:
    return app_paths().state / DEVNET_STATE_FILE


def read_devnet_state() -> dict[str, object] | None:
    path = devnet_state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"the devnet state file {path} is unreadable", "restart `rlswarm devnet up`"
        ) from exc
    return data if isinstance(data, dict) else None


def resolve_network(
    name: str,
    *,
    rpc_url: str | None = None,
    contract: str | None = None,
    chain_id: int | None = None,
) -> Network:
    if name == "local":
        base = Network("local", None, None, None)
    elif name == "devnet":
        state = read_devnet_state() or {}
        base = Network(
            "devnet",
            int(state.get("chain_id", DEVNET_CHAIN_ID)),  # type: ignore[arg-type]
            state.get("rpc_url") if isinstance(state.get("rpc_url"), str) else None,  # type: ignore[arg-type]
            state.get("contract") if isinstance(state.get("contract"), str) else None,  # type: ignore[arg-type]
        )
    elif name == "testnet":
        base = Network("testnet", TESTNET_CHAIN_ID, TESTNET_RPC_URL, TESTNET_CONTRACT)
    elif name == "swarm":
        # a community swarm's chain: every value comes from its swarm file (`join --swarm`)
        base = Network("swarm", None, None, None)
    else:
        raise ConfigError(f"unknown network {name!r}", f"choose one of: {', '.join(NETWORK_NAMES)}")
    overrides: dict[str, object] = {}
    if rpc_url:
        overrides["rpc_url"] = rpc_url
    if contract:
        overrides["contract"] = contract
    if chain_id is not None:
        overrides["chain_id"] = chain_id
    return replace(base, **overrides) if overrides else base


def network_of(settings: Any) -> Network:
    """The network a node's resolved settings name (``network``), with their ``rpc_url``, ``contract``
    and ``chain_id`` over the network's own values: what ``join``, ``rewards`` and ``doctor`` use."""
    return resolve_network(
        settings.network, rpc_url=settings.rpc_url, contract=settings.contract, chain_id=settings.chain_id
    )
