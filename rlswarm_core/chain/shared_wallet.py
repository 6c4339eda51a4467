"""Shared wallets: several nodes signing with one account.

The coordinator contract pays one reward per **account** and (round, stage), whichever of the account's
peers submits (the live SwarmCoordinator 0.4.2 behaves so), so two nodes on one wallet earn once per
stage between them. Two places show it: local instances that would sign with the same account, and the
chain's own record of the peer ids registered to the node's account. Both answer with a
:class:`SharedWallet` whose :meth:`~SharedWallet.message` is the one line the commands print.

Nothing here imports web3: the chain's record is read through a :class:`CoordinatorReader` the caller
already has, or with one raw ``eth_call`` (``doctor``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FIX = "give each instance its own wallet (one account per node)"
WALLET_KEY_ENV = "RLSWARM_WALLET_PRIVATE_KEY"
PROXY_ORG_ENV = "RLSWARM_PROXY_ORG_ID"


@dataclass(frozen=True)
class SharedWallet:
    """One account and the nodes that sign with it: local instance names and/or on-chain peer ids."""

    account: str
    instances: tuple[str, ...] = ()
    peers: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        if self.instances:
            who = f"instances {', '.join(self.instances)} sign with one account ({self.account})"
        else:
            shown = ", ".join(p if len(p) <= 16 else f"{p[:8]}…{p[-4:]}" for p in self.peers)
            who = (
                f"account {self.account} holds {len(self.peers)} peer ids on chain ({shown}); "
                "while they run at the same time"
            )
        return f"{who}: the coordinator pays one reward per account and stage, so only one of them earns"

    def one_line(self) -> str:
        return f"{self.message()}; {FIX}"


def _instance_network(settings: Mapping[str, Any], default_network: str) -> str:
    network = settings.get("network")
    return str(network) if isinstance(network, str) and network else default_network


def _signing_account(settings: Mapping[str, Any], default_account: str | None) -> str | None:
    """What an instance signs with: its own key or proxy org in its environment, else the stored login.
    An own key is told apart by its digest; the key itself never leaves this function."""
    env = settings.get("env") if isinstance(settings.get("env"), Mapping) else {}
    key = env.get(WALLET_KEY_ENV) if env else None
    if isinstance(key, str) and key.strip():
        return "key:" + hashlib.sha256(key.strip().lower().removeprefix("0x").encode()).hexdigest()[:12]
    org = env.get(PROXY_ORG_ENV) if env else None
    if isinstance(org, str) and org.strip():
        return "org:" + hashlib.sha256(org.strip().encode()).hexdigest()[:12]
    return default_account


def local_shared_wallets(
    instances: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    default_network: str = "local",
    default_account: str | None = None,
) -> list[SharedWallet]:
    """Groups of local instances on a chain network that would sign with one account.

    ``instances`` are ``(name, settings)`` pairs (an instance's settings layer); ``default_account``
    is the stored login (the wallet address from ``rlswarm login wallet``, or None when nothing is
    stored, in which case nothing is reported). Instances on the ``local`` network have no chain.
    """
    groups: dict[str, list[str]] = {}
    for name, settings in instances:
        if _instance_network(settings, default_network) == "local":
            continue
        account = _signing_account(settings, default_account)
        if account is not None:
            groups.setdefault(account, []).append(name)
    found = []
    for account, names in sorted(groups.items()):
        if len(names) > 1:
            shown = "its own key" if account.startswith(("key:", "org:")) else account
            found.append(SharedWallet(shown, tuple(sorted(names))))
    return found


def registered_instances(environ: Mapping[str, str] | None = None) -> list[SharedWallet]:
    """:func:`local_shared_wallets` over this machine's instance registry and login: a wallet key in
    the environment (every supervised instance inherits it), else the stored wallet's address."""
    import os

    from rlswarm_core.instances import registry
    from rlswarm_core.settings.resolve import load_user_config

    env = os.environ if environ is None else environ
    config = load_user_config()
    account = _signing_account({"env": dict(env)}, None) or config.get("wallet_address") or None
    network = env.get("RLSWARM_NETWORK") or config.get("network")
    records = registry.list_records()
    return local_shared_wallets(
        ((r.name, r.settings) for r in records),
        default_network=network if isinstance(network, str) and network else "local",
        default_account=str(account) if account else None,
    )


def instance_shares_wallet(name: str) -> SharedWallet | None:
    """The group the named local instance is part of, if it shares its wallet with another."""
    for group in registered_instances():
        if name in group.instances:
            return group
    return None


def on_chain(account: str | None, own_peer: str, peer_ids: Sequence[str]) -> SharedWallet | None:
    """The account's registered peer ids (the chain's ``getPeerId``) beyond this node's own."""
    others = tuple(p for p in peer_ids if p != own_peer)
    if account is None or not others:
        return None
    return SharedWallet(account, (), (own_peer, *others) if own_peer in peer_ids else others)


def chain_shared_wallet(reader: Any, account: str | None, own_peer: str) -> SharedWallet | None:
    """:func:`on_chain` read through a :class:`~rlswarm_core.chain.reader.CoordinatorReader`."""
    account = account or reader.owner(own_peer)
    if account is None:
        return None
    return on_chain(account, own_peer, reader.peer_ids([account])[0])


def peer_ids_by_eth_call(rpc_url: str, contract: str, account: str, timeout: float) -> list[str]:
    """``getPeerId([account])[0]`` with one raw JSON-RPC ``eth_call`` (no web3 import)."""
    import httpx
    from eth_abi import decode, encode
    from eth_utils import keccak, to_checksum_address

    selector = keccak(text="getPeerId(address[])")[:4]
    data = "0x" + (selector + encode(["address[]"], [[to_checksum_address(account)]])).hex()
    payload = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_call",
        "params": [{"to": to_checksum_address(contract), "data": data}, "latest"],
    }
    body = httpx.post(rpc_url, json=payload, timeout=timeout).json()
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, str):
        raise ValueError(f"the contract did not answer getPeerId ({body.get('error') if body else body})")
    (lists,) = decode(["string[][]"], bytes.fromhex(result.removeprefix("0x")))
    return list(lists[0]) if lists else []
