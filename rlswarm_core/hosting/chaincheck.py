"""A node's checks of a swarm's chain against its swarm file: the chain id and the coordinator's code."""

from __future__ import annotations

from typing import Any

from rlswarm_core.errors import ConfigError

# EIP-1967: where a UUPS proxy keeps its implementation's address
IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC


def implementation_address(reader: Any) -> str:
    """The coordinator's implementation (the proxy's EIP-1967 slot), or the contract itself if none."""
    raw = reader.rpc(
        lambda: reader.w3.eth.get_storage_at(reader.address, IMPLEMENTATION_SLOT), "read the proxy slot"
    )
    word = bytes(raw)[-20:]
    if not any(word):
        return str(reader.address)
    from rlswarm_core.chain.reader import checksum

    return checksum("0x" + word.hex())


def coordinator_code_hash(reader: Any) -> str:
    """keccak256 of the implementation's runtime code: what decides how the coordinator behaves."""
    from web3 import Web3

    impl = implementation_address(reader)
    code = reader.rpc(lambda: reader.w3.eth.get_code(impl), "read the contract code")
    if not code:
        raise ConfigError(f"there is no contract code at {impl}", "check the swarm file's chain.contract")
    return "0x" + Web3.keccak(bytes(code)).hex().removeprefix("0x")


def check_swarm_chain(swarm: Any, reader: Any) -> None:
    """Refuse a chain whose id or coordinator code differs from what the swarm file records."""
    chain = swarm.chain
    if chain is None:
        return
    actual_id = reader.chain_id()
    if actual_id != chain.chain_id:
        raise ConfigError(
            f"swarm {swarm.name!r}: the RPC endpoint {chain.rpc_url} serves chain id {actual_id}, "
            f"the swarm file says {chain.chain_id}",
            "get the current swarm file from its host, or point chain.rpc_url at the swarm's chain",
        )
    if chain.code_hash:
        found = coordinator_code_hash(reader)
        if found.lower() != chain.code_hash.lower():
            raise ConfigError(
                f"swarm {swarm.name!r}: the contract at {reader.address} runs code {found[:18]}..., "
                f"the swarm file expects {chain.code_hash[:18]}...",
                "the swarm moved or the file is stale: get the current swarm file from its host",
            )
