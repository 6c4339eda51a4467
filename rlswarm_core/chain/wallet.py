"""Wallet mode: the node signs its own transactions with a private key.

The key is accepted as a parameter (the caller reads it from the secret store), registered for
redaction at once, and never kept as text: only the signing account object is held. Errors raised here
never chain the underlying exception where its text could carry the key.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from rlswarm_core.chain.base import RegisterResult, TxResult, check_reward
from rlswarm_core.chain.errors import (
    ChainError,
    ContractRevert,
    PeerIdTaken,
    WalletError,
    chain_failure,
    is_transport_error,
    revert_from_exception,
)
from rlswarm_core.chain.reader import CoordinatorReader, checksum
from rlswarm_core.secrets.redact import redact, register_secret

log = logging.getLogger(__name__)

DEFAULT_GAS_CAP = 2_000_000
GAS_HEADROOM = 1.25
RECEIPT_TIMEOUT_S = 60.0
# Another process signing with the same key takes nonces too: resynchronise and retry a few times.
NONCE_ATTEMPTS = 5
_NONCE_CONFLICT = re.compile(r"nonce|replacement transaction underpriced|already known")


def load_account(private_key: str) -> Any:
    """An eth_account signer for the key; the error names the problem without echoing the key."""
    from eth_account import Account

    register_secret(private_key)
    key = (private_key or "").strip()
    register_secret(key)
    try:
        return Account.from_key(key)
    except Exception:
        raise WalletError(
            "the wallet private key is not a valid 32-byte hex key",
            "store the key again with `rlswarm login wallet` (64 hex digits, optionally 0x-prefixed)",
        ) from None


class WalletClient:
    """Signs and sends coordinator transactions from one account; thread-safe nonce management."""

    def __init__(
        self,
        reader: CoordinatorReader,
        private_key: str,
        *,
        gas_cap: int = DEFAULT_GAS_CAP,
        receipt_timeout_s: float = RECEIPT_TIMEOUT_S,
    ) -> None:
        self.reader = reader
        self._account = load_account(private_key)
        self.address: str = self._account.address
        self.gas_cap = gas_cap
        self.receipt_timeout_s = receipt_timeout_s
        self._nonce: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WalletClient(address={self.address}, contract={self.reader.address})"

    # ----- coordinator calls -----

    def register_peer(self, peer_id: str) -> RegisterResult:
        """Link the peer id to this account; harmless if it already is, an error if another holds it."""
        owner = self.reader.owner(peer_id)
        if owner is not None:
            return self._registered_result(peer_id, owner)
        try:
            tx = self.transact("registerPeer", peer_id)
        except ContractRevert as exc:
            if exc.name != "PeerIdAlreadyRegistered":
                raise
            # Lost a race with another registration: report whoever holds it now.
            return self._registered_result(peer_id, self.reader.owner(peer_id) or "")
        return RegisterResult(peer_id, self.address, False, tx.tx_hash)

    def _registered_result(self, peer_id: str, owner: str) -> RegisterResult:
        if owner.lower() == self.address.lower():
            return RegisterResult(peer_id, self.address, True)
        raise PeerIdTaken(
            f"peer id {peer_id} is registered to account {owner}, not to this wallet ({self.address})",
            "log in with the wallet that registered it, or create a new identity (`rlswarm identity create`)",
        )

    def submit_reward(self, round_number: int, stage: int, reward: int, peer_id: str) -> TxResult:
        return self.transact("submitReward", round_number, stage, check_reward(reward), peer_id)

    def submit_winners(self, round_number: int, winners: Sequence[str], peer_id: str) -> TxResult:
        return self.transact("submitWinners", round_number, list(winners), peer_id)

    def update_stage_and_round(self) -> TxResult:
        return self.transact("updateStageAndRound")

    def add_bootnodes(self, bootnodes: Sequence[str]) -> TxResult:
        return self.transact("addBootnodes", list(bootnodes))

    def grant_role(self, role: str, account: str) -> TxResult:
        role_id = self.reader.call(role)
        return self.transact("grantRole", role_id, checksum(account))

    # ----- sending -----

    def transact(self, name: str, *args: Any) -> TxResult:
        """Simulate, sign and send one call; wait for its receipt. Reverts come back as ContractRevert."""
        reader = self.reader
        reader.ensure_chain()
        fn = reader.contract.functions[name](*args)
        with self._lock:
            estimate = reader.rpc(lambda: fn.estimate_gas({"from": self.address}), f"estimate gas for {name}")
            if estimate > self.gas_cap:
                raise WalletError(
                    f"{name} needs about {estimate} gas, above the cap of {self.gas_cap}",
                    "raise the gas cap only if you trust the contract address",
                )
            gas = min(int(estimate * GAS_HEADROOM), self.gas_cap)
            tx_hash = self._sign_and_send(fn, name, gas)
        receipt = reader.rpc(
            lambda: reader.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout_s, poll_latency=0.1
            ),
            f"wait for the {name} transaction {tx_hash.hex()}",
        )
        if receipt["status"] != 1:
            raise self._failure_of(fn, name, receipt)
        log.info("%s landed in block %s (tx %s)", name, receipt["blockNumber"], tx_hash.hex())
        return TxResult(
            "0x" + tx_hash.hex().removeprefix("0x"), int(receipt["blockNumber"]), int(receipt["gasUsed"])
        )

    def _sign_and_send(self, fn: Any, name: str, gas: int) -> Any:
        reader = self.reader
        for attempt in range(1, NONCE_ATTEMPTS + 1):
            nonce = self._next_nonce()
            tx = reader.rpc(
                lambda nonce=nonce: fn.build_transaction(
                    {"from": self.address, "nonce": nonce, "gas": gas, "chainId": reader.expected_chain_id}
                    if reader.expected_chain_id is not None
                    else {"from": self.address, "nonce": nonce, "gas": gas}
                ),
                f"build the {name} transaction",
            )
            try:
                signed = self._account.sign_transaction(tx)
            except Exception:
                raise WalletError(f"could not sign the {name} transaction") from None
            try:
                tx_hash = reader.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as exc:
                # Whether the node accepted it is unknown; read the nonce again next time.
                self._nonce = None
                text = redact(str(exc)).lower()
                if not is_transport_error(exc):
                    if _NONCE_CONFLICT.search(text) and attempt < NONCE_ATTEMPTS:
                        log.info("nonce %s was stale; resynchronising", nonce)
                        continue
                    if "insufficient funds" in text:
                        raise WalletError(
                            f"account {self.address} cannot pay for gas",
                            "fund the account on this network",
                        ) from None
                raise chain_failure(
                    exc, f"send {name}", reader.rpc_url, "queued submissions are retried"
                ) from None
            self._nonce = nonce + 1
            return tx_hash
        raise ChainError(
            f"could not find a usable nonce for {name}"
        )  # pragma: no cover - loop returns or raises

    def _next_nonce(self) -> int:
        pending = self.reader.rpc(
            lambda: self.reader.w3.eth.get_transaction_count(self.address, "pending"),
            "read the account nonce",
        )
        # Another process may share the key: never go below the chain's pending count.
        self._nonce = max(self._nonce or 0, int(pending))
        return self._nonce

    def _failure_of(self, fn: Any, name: str, receipt: Any) -> ChainError:
        """Replay a failed transaction as a call in its block's parent state to recover the revert reason."""
        block = int(receipt["blockNumber"])
        try:
            fn.call({"from": self.address}, block_identifier=max(block - 1, 0))
        except Exception as exc:
            decoded = revert_from_exception(exc)
            if decoded is not None:
                return decoded
        return ChainError(f"the {name} transaction failed on chain (block {block}, likely out of gas)")
