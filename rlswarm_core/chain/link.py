"""Connecting a node to its network's on-chain coordinator: which clock it follows and how its rewards
and votes reach the contract (wallet or proxy), with the durable retry queue in between.

A ``local`` network has no chain: :func:`connect_chain` returns None and the DHT drives rounds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlswarm_core.errors import ConfigError


class LoginRequired(ConfigError):
    """The network needs a wallet or proxy login and none is stored."""


@dataclass
class ChainLink:
    network: Any
    reader: Any
    submitter: Any
    queue: Any
    worker: Any
    mode: str  # "wallet" | "proxy"
    registration: Any = None

    def clock_factory(self, role: str) -> Callable[[Any, int], Any]:
        """The node's clock: the contract's round/stage; the coordinator role advances it when its wallet
        holds the stage manager role (devnets), else rounds advance on their own (public networks)."""
        from rlswarm_core.chain.clock import ChainClock
        from rlswarm_core.chain.coordinator import ChainCoordinator

        manager = self.submitter if role == "coordinator" and self.is_stage_manager() else None

        def make(swarm: Any, stage_count: int) -> Any:
            clock = ChainCoordinator(
                ChainClock(self.reader), stage_manager=manager, events=getattr(swarm, "events", None)
            )
            if clock.stage_count != stage_count:
                raise ConfigError(
                    f"the contract has {clock.stage_count} stages per round, the task family {stage_count}",
                    "choose the task family the network runs (--network and task_family must agree)",
                )
            return clock

        return make

    def is_stage_manager(self) -> bool:
        """Whether this node's wallet may advance the contract's clock (a devnet's stage manager)."""
        if self.mode != "wallet":
            return False
        try:
            return bool(self.reader.has_role("STAGE_MANAGER_ROLE", self.submitter.address))
        except Exception:
            return False

    def shared_wallets(self, instance: str | None = None) -> list[Any]:
        """Where this node's account is shared: local instances signing with it (``instance`` among
        them) and the peer ids the chain records for it; each item's ``one_line()`` says what to do."""
        from rlswarm_core.chain.shared_wallet import chain_shared_wallet, instance_shares_wallet

        found: list[Any] = []
        with contextlib.suppress(Exception):
            local = instance_shares_wallet(instance) if instance else None
            if local is not None:
                found.append(local)
        with contextlib.suppress(Exception):
            registration = self.registration
            on_chain = chain_shared_wallet(
                self.reader, getattr(registration, "account", None), registration.peer_id
            )
            if on_chain is not None:
                found.append(on_chain)
        return found

    def close(self, flush: bool = True) -> None:
        """Stop the retry worker; with ``flush``, try once more to send what is queued (Ctrl-C)."""
        self.worker.stop()
        if flush:
            # Whatever still fails stays queued on disk, and the next start sends it.
            with contextlib.suppress(Exception):
                self.queue.drain(force=True)


def connect_chain(
    settings: Any, peer_id: str, *, secrets: Any = None, proxy_url: str | None = None
) -> ChainLink | None:
    """Reader, submitter and queue for ``settings.network`` (and its ``rpc_url``, ``contract`` and
    ``chain_id`` settings); None for a local swarm.

    Wallet mode when a wallet key is stored (``rlswarm login wallet``), else proxy mode when a proxy is
    configured (``rlswarm login proxy``); neither is one clear error. Registering the peer id is
    harmless when it is already ours.
    """
    if settings.network == "local":
        return None
    from rlswarm_core.chain.networks import network_of
    from rlswarm_core.chain.queue import RetryWorker, SubmissionQueue, default_queue_dir
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.secrets.store import SecretStore
    from rlswarm_core.settings.resolve import load_user_config

    network = network_of(settings).require_chain()
    reader = CoordinatorReader(network.rpc_url, network.contract, network.chain_id)
    reader.ensure_chain()
    store = secrets or SecretStore()
    wallet_key = store.get("wallet_private_key").value
    if wallet_key:
        from rlswarm_core.chain.wallet import WalletClient

        submitter: Any = WalletClient(reader, wallet_key)
        mode = "wallet"
    else:
        config = load_user_config()
        base = proxy_url or config.get("proxy_url")
        org_id = store.get("proxy_org_id").value
        if not base or not org_id:
            raise LoginRequired(
                f"network {network.name!r} needs a login to submit rewards",
                "run 'rlswarm login wallet' (a private key) or 'rlswarm login proxy' (URL and org id)",
            )
        from rlswarm_core.chain.proxy import ProxyClient

        submitter = ProxyClient(str(base), org_id, account=config.get("wallet_address"), reader=reader)
        mode = "proxy"
    registration = submitter.register_peer(peer_id)
    # One queue per peer: instances with different accounts must never send each other's entries.
    queue = SubmissionQueue(default_queue_dir(network.name) / peer_id, submitter, reader)
    worker = RetryWorker(queue).start()
    return ChainLink(network, reader, submitter, queue, worker, mode, registration)
