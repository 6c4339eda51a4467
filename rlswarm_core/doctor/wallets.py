"""Shared wallets: local instances, or peer ids on chain, that earn through one account."""

from __future__ import annotations

from typing import Any

from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import OK, WARNING, CheckResult


def check_shared_wallets(ctx: DoctorContext) -> CheckResult:
    """Instances on one account (from the registry and the login), and, online on a chain network, the
    peer ids the contract holds for the stored wallet address."""
    from rlswarm_core.chain.shared_wallet import FIX, on_chain, peer_ids_by_eth_call, registered_instances

    found = registered_instances(ctx.environ)
    details: dict[str, Any] = {"local": [list(g.instances) for g in found]}
    account = ctx.raw_config.get("wallet_address")
    network = ctx.settings.network
    if ctx.online and network != "local" and isinstance(account, str) and account:
        from rlswarm_core.chain.networks import resolve_network

        try:
            net = resolve_network(network, rpc_url=ctx.rpc_url).require_chain()
            peers = peer_ids_by_eth_call(net.rpc_url or "", net.contract or "", account, ctx.net_timeout)
        except Exception as exc:
            details["chain_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        else:
            details["peers_on_chain"] = peers
            shared = on_chain(account, "", peers) if len(peers) > 1 else None
            if shared is not None:
                found.append(shared)
    if found:
        return CheckResult("shared-wallet", WARNING, "; ".join(g.message() for g in found), FIX, details)
    return CheckResult("shared-wallet", OK, "no two nodes share a wallet", "", details)
