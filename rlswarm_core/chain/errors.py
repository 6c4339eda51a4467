"""Chain error types, and contract reverts decoded into one readable line each."""

from __future__ import annotations

import re
from functools import lru_cache

from rlswarm_core.chain.abi import abi_errors
from rlswarm_core.errors import RlswarmError, describe_exception
from rlswarm_core.secrets.redact import redact


class ChainError(RlswarmError):
    """Anything that went wrong talking to the coordinator contract."""


class ChainUnavailable(ChainError):
    """A transport failure (endpoint down, timeout, 5xx): the call may succeed later, so it is retried."""


class WrongChain(ChainError):
    """The endpoint serves a different chain than the selected network."""


class WalletError(ChainError):
    """The wallet key is unusable, unfunded, or the transaction cannot be built within the gas cap."""


class PeerIdTaken(ChainError):
    """The peer id is registered to another account."""


class AccountAlreadySubmitted(ChainError):
    """The account this node signs with already used its reward for the round and stage through another
    of its peers (two instances on one wallet): this node's reward for that stage does not count."""

    reason = "account_already_submitted"


class ContractRevert(ChainError):
    """The contract rejected the call; ``name`` is the custom error (or ``Error`` / ``Panic``)."""

    def __init__(self, name: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.name = name


# Reverts that mean "this was already done": the queue treats them as delivered, not as failures.
ALREADY_DONE = frozenset({"RewardAlreadySubmitted", "WinnerAlreadyVoted"})

_MESSAGES: dict[str, tuple[str, str | None]] = {
    "PeerIdAlreadyRegistered": (
        "this peer id is already registered to another account",
        "use the account that registered it, or create a new identity with `rlswarm identity create`",
    ),
    "RewardAlreadySubmitted": (
        "this account already submitted a reward for this round and stage",
        "an account earns once per stage whichever of its peers submits: give each node its own wallet",
    ),
    "InvalidRoundNumber": (
        "the round number is ahead of the contract's current round",
        "wait for the coordinator to reach that round; check the node's clock source",
    ),
    "InvalidStageNumber": (
        "the stage number is ahead of the contract's current stage or beyond its stage count",
        "wait for the coordinator to reach that stage; check that the task family matches the network",
    ),
    "StageOutOfBounds": ("the stage number is outside the contract's stage count", None),
    "WinnerAlreadyVoted": ("this peer already voted for this round's winners", None),
    "InvalidVoterPeerId": (
        "the submitting account does not own this peer id",
        "register the peer id from this account first (it is registered to a different one, or to none)",
    ),
    "InvalidVote": ("the vote is invalid: winners must be distinct, non-empty peer ids", None),
    "OnlyOwner": ("only the contract owner may do this", None),
    "OnlyStageManager": ("only the stage manager may advance stages and rounds", None),
    "OnlyBootnodeManager": ("only the bootnode manager may change bootnodes", None),
    "InvalidBootnodeIndex": ("there is no bootnode at that index", "list them with getBootnodes"),
    "InvalidInitialization": ("the contract is already initialised", None),
    "NotInitializing": ("the contract is not initialising", None),
    "UUPSUnauthorizedCallContext": ("this call must go through the contract's proxy", None),
    "UUPSUnsupportedProxiableUUID": ("the new implementation is not a compatible UUPS implementation", None),
    "ERC1967InvalidImplementation": ("the new implementation address has no compatible contract", None),
    "ERC1967NonPayable": ("this upgrade call does not accept value", None),
    "AddressEmptyCode": ("the target address has no contract code", None),
    "FailedCall": ("a low-level call inside the contract failed", None),
}

_ERROR_SELECTOR = "08c379a0"  # Error(string)
_PANIC_SELECTOR = "4e487b71"  # Panic(uint256)
_HEX_RE = re.compile(r"0x[0-9a-fA-F]{8,}")


@lru_cache(maxsize=1)
def _selectors() -> dict[str, str]:
    from eth_utils import keccak

    table: dict[str, str] = {}
    for name, types in abi_errors().items():
        signature = f"{name}({','.join(types)})"
        table[keccak(text=signature)[:4].hex()] = name
    return table


def revert_from_data(data: str | bytes | None) -> ContractRevert | None:
    """Decode ABI-encoded revert data (custom error, ``Error(string)``, ``Panic``); None if not one."""
    if data is None:
        return None
    hexdata = data.hex() if isinstance(data, bytes) else str(data)
    hexdata = hexdata[2:] if hexdata.startswith("0x") else hexdata
    if len(hexdata) < 8:
        return None
    selector = hexdata[:8].lower()
    name = _selectors().get(selector)
    if name is not None:
        return revert_named(name)
    if selector == _ERROR_SELECTOR:
        from eth_abi import decode

        try:
            (reason,) = decode(["string"], bytes.fromhex(hexdata[8:]))
        except Exception:
            reason = "unreadable reason"
        return ContractRevert("Error", f"the contract rejected the call: {redact(str(reason))}")
    if selector == _PANIC_SELECTOR:
        return ContractRevert("Panic", f"the contract panicked (code 0x{hexdata[8:].lstrip('0') or '0'})")
    return None


def revert_named(name: str) -> ContractRevert:
    message, hint = _MESSAGES.get(name, (f"the contract rejected the call ({name})", None))
    return ContractRevert(name, f"{message} [{name}]", hint)


def revert_from_exception(exc: BaseException) -> ContractRevert | None:
    """Find revert data in a web3 exception (its ``data``, or a hex blob in its arguments)."""
    candidates: list[object] = [getattr(exc, "data", None)]
    candidates.extend(exc.args)
    for candidate in candidates:
        if isinstance(candidate, dict):
            candidate = candidate.get("data")
        if isinstance(candidate, bytes | str):
            decoded = revert_from_data(candidate)
            if decoded is not None:
                return decoded
            for blob in _HEX_RE.findall(str(candidate)):
                decoded = revert_from_data(blob)
                if decoded is not None:
                    return decoded
    return None


def revert_from_name_in_text(text: str) -> ContractRevert | None:
    """Recognise a custom error named in free text (a proxy's error body)."""
    for name in sorted(_MESSAGES, key=len, reverse=True):
        if re.search(rf"\b{name}\b", text):
            return revert_named(name)
    decoded = None
    for blob in _HEX_RE.findall(text):
        decoded = revert_from_data(blob)
        if decoded is not None:
            return decoded
    return None


def is_transport_error(exc: BaseException) -> bool:
    """True for failures of the connection itself (the call may succeed later), not of the call."""
    import requests
    from web3.exceptions import ProviderConnectionError, TimeExhausted

    return isinstance(
        exc,
        requests.exceptions.RequestException
        | ProviderConnectionError
        | TimeExhausted
        | ConnectionError
        | TimeoutError,
    )


def chain_failure(exc: BaseException, doing: str, rpc_url: str, retry_hint: str) -> ChainError:
    """The one translation of an exception raised by web3 while ``doing`` something on the chain.

    A transport failure becomes :class:`ChainUnavailable` (retried by the submission queue), a revert
    the contract's decoded error, anything else a :class:`ChainError` with the exception's first words.
    Callers raise the result ``from None``: the original's text may carry a signed transaction.
    """
    if isinstance(exc, ChainError):
        return exc
    if is_transport_error(exc):
        why = describe_exception(exc)
        return ChainUnavailable(
            f"cannot reach the chain RPC endpoint {rpc_url} to {doing} ({why})", retry_hint
        )
    decoded = revert_from_exception(exc)
    if decoded is not None:
        return decoded
    return ChainError(f"the chain rejected the request to {doing} ({describe_exception(exc)})")
