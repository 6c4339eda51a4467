"""Deploying a swarm's coordinator contract with the operator's wallet and recording it in the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlswarm_core.errors import ConfigError, RlswarmError


@dataclass(frozen=True)
class Deployment:
    contract: str
    implementation: str
    owner: str
    code_hash: str
    stage_manager: str
    bootnode_manager: str
    chain_id: int
    rpc_url: str


def deploy_swarm(swarm: Any, private_key: str) -> Deployment:
    """Deploy the implementation and an initialised proxy owned by the wallet's account, grant the stage
    manager and bootnode manager roles as the file configures, and write the results into ``swarm``."""
    from rlswarm_core.chain.abi import contract_artifact
    from rlswarm_core.chain.devnet import DevnetError, _deploy
    from rlswarm_core.chain.reader import CoordinatorReader, make_web3
    from rlswarm_core.chain.wallet import WalletClient, load_account
    from rlswarm_core.hosting.chaincheck import coordinator_code_hash

    chain = swarm.chain
    if chain is None:
        raise ConfigError(
            f"swarm {swarm.name!r} has no chain section",
            "recreate it with `rlswarm swarm create --rpc-url URL --chain-id ID`",
        )
    owner = load_account(private_key)
    w3 = make_web3(chain.rpc_url)
    try:
        actual = int(w3.eth.chain_id)
    except Exception as exc:
        raise RlswarmError(
            f"cannot reach the chain at {chain.rpc_url} ({type(exc).__name__})", "check the RPC URL"
        ) from None
    if actual != chain.chain_id:
        raise ConfigError(
            f"the RPC endpoint {chain.rpc_url} serves chain id {actual}, "
            f"the swarm file says {chain.chain_id}",
            "fix chain.chain_id or chain.rpc_url in the swarm file",
        )
    try:
        implementation = _deploy(w3, owner, actual, "SwarmCoordinator")
        abi = contract_artifact()["SwarmCoordinator"]["abi"]
        init = w3.eth.contract(abi=abi).encode_abi("initialize", [owner.address])
        proxy = _deploy(w3, owner, actual, "SwarmCoordinatorProxy", implementation, init)
    except RlswarmError:
        raise
    except Exception as exc:
        text = str(exc).lower()
        hint = "fund the account on this chain" if "insufficient funds" in text else None
        raise DevnetError(
            f"deploying the coordinator to {chain.rpc_url} failed ({type(exc).__name__})", hint
        ) from None
    reader = CoordinatorReader(chain.rpc_url, proxy, actual)
    stage_count = reader.stage_count()
    if stage_count != swarm.stages.count:
        raise ConfigError(
            f"the coordinator has {stage_count} stages per round, the swarm file {swarm.stages.count}",
            "set stages.count to the contract's stage count",
        )
    wallet = WalletClient(reader, private_key)
    stage_manager = chain.stage_manager or owner.address
    bootnode_manager = chain.bootnode_manager or owner.address
    for role, account in (("STAGE_MANAGER_ROLE", stage_manager), ("BOOTNODE_MANAGER_ROLE", bootnode_manager)):
        if not reader.has_role(role, account):
            wallet.grant_role(role, account)
    code_hash = coordinator_code_hash(reader)
    swarm.chain = chain.model_copy(
        update={
            "contract": proxy,
            "code_hash": code_hash,
            "stage_manager": stage_manager,
            "bootnode_manager": bootnode_manager,
        }
    )
    return Deployment(
        proxy,
        implementation,
        owner.address,
        code_hash,
        stage_manager,
        bootnode_manager,
        actual,
        chain.rpc_url,
    )


def stored_wallet_key() -> str:
    """The keyring's wallet key, which deploys and serves a swarm (never passed as an argument)."""
    from rlswarm_core.chain.link import LoginRequired
    from rlswarm_core.secrets.store import SecretStore

    key = SecretStore().get("wallet_private_key").value
    if not key:
        raise LoginRequired("no wallet is stored to sign with", "run `rlswarm login wallet` first")
    return key
