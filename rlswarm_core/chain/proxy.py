"""Proxy mode: the node asks an HTTP proxy (backed by the operator's hosted account) to send its calls.

``POST {base}/register-peer``, ``/submit-reward`` and ``/submit-winner`` with ``orgId`` and the call's
arguments, as the reference node does. Timeouts and 5xx answers are retried a few times and then raised
as :class:`ChainUnavailable` (the submission queue keeps the call); anything else becomes one line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rlswarm_core.chain.base import RegisterResult, TxResult, check_reward
from rlswarm_core.chain.errors import (
    ChainError,
    ChainUnavailable,
    ContractRevert,
    PeerIdTaken,
    revert_from_name_in_text,
)
from rlswarm_core.errors import whole_line
from rlswarm_core.secrets.redact import redact, register_secret

if TYPE_CHECKING:
    import httpx

    from rlswarm_core.chain.reader import CoordinatorReader

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
# the org id `rlswarm devnet proxy` accepts unless told otherwise: public, and a word of rlswarm's own
# vocabulary, so masking it as a secret would mask "devnet" in every line of output
DEVNET_ORG_ID = "devnet"
DEFAULT_RETRIES = 2
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class ProxyError(ChainError):
    """The proxy refused a request for a reason other than a contract revert."""


class ProxyClient:
    """``account`` is the hosted account's address when known; with a ``reader`` it tells a rerun registration
    (harmless) from a peer id held by someone else (an error)."""

    def __init__(
        self,
        base_url: str,
        org_id: str,
        *,
        account: str | None = None,
        reader: CoordinatorReader | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = 0.5,
    ) -> None:
        import httpx

        if not org_id:
            raise ProxyError("no org id for proxy mode", "log in again with `rlswarm login`")
        register_org_id(org_id)
        self.base_url = base_url.rstrip("/")
        self._org_id = org_id
        self.account = account
        self.reader = reader
        self.retries = retries
        self.backoff_s = backoff_s
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5.0))

    def __repr__(self) -> str:
        return f"ProxyClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- coordinator calls -----

    def register_peer(self, peer_id: str) -> RegisterResult:
        try:
            body = self._post("register-peer", {"peerId": peer_id})
        except ContractRevert as exc:
            if exc.name != "PeerIdAlreadyRegistered":
                raise
            return self._already_registered(peer_id)
        self._learn_account(body)
        return RegisterResult(peer_id, self.account, bool(body.get("alreadyRegistered")), _tx_hash(body))

    def _already_registered(self, peer_id: str) -> RegisterResult:
        owner = self.reader.owner(peer_id) if self.reader is not None else None
        if owner is not None and self.account is not None and owner.lower() == self.account.lower():
            return RegisterResult(peer_id, owner, True)
        holder = f"account {owner}" if owner else "another account"
        raise PeerIdTaken(
            f"peer id {peer_id} is registered to {holder}, not to this login",
            "log in with the account that registered it, or make a new identity (`rlswarm identity create`)",
        )

    def submit_reward(self, round_number: int, stage: int, reward: int, peer_id: str) -> TxResult:
        body = self._post(
            "submit-reward",
            {
                "roundNumber": round_number,
                "stageNumber": stage,
                "reward": check_reward(reward),
                "peerId": peer_id,
            },
        )
        return TxResult(_tx_hash(body))

    def submit_winners(self, round_number: int, winners: Sequence[str], peer_id: str) -> TxResult:
        body = self._post(
            "submit-winner", {"roundNumber": round_number, "winners": list(winners), "peerId": peer_id}
        )
        return TxResult(_tx_hash(body))

    # ----- HTTP -----

    def _post(self, endpoint: str, args: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}/{endpoint}"
        payload = {"orgId": self._org_id, **args}
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._http.post(url, json=payload)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}"
                log.info("proxy %s attempt %d failed: %s", endpoint, attempt + 1, problem)
                continue
            if response.is_success:
                return _json_object(response)
            summary = _summarise(response)
            decoded = revert_from_name_in_text(summary)
            if decoded is not None:
                raise decoded
            if response.status_code in _RETRY_STATUSES:
                problem = f"HTTP {response.status_code}: {summary}"
                log.info("proxy %s attempt %d failed: %s", endpoint, attempt + 1, problem)
                continue
            raise ProxyError(
                f"the proxy refused {endpoint} (HTTP {response.status_code}): {summary}",
                _hint_for(response.status_code),
            )
        raise ChainUnavailable(
            f"the proxy at {self.base_url} did not complete {endpoint} "
            f"after {self.retries + 1} attempts ({problem})",
            "check that the login service is running; queued submissions are retried",
        )

    def _learn_account(self, body: dict[str, Any]) -> None:
        account = body.get("account")
        if self.account is None and isinstance(account, str):
            self.account = account


def _tx_hash(body: dict[str, Any]) -> str | None:
    value = body.get("txHash") or body.get("hash")
    return value if isinstance(value, str) else None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _summarise(response: httpx.Response) -> str:
    """One short line from an error body: its error/message fields if JSON, else its first text line."""
    text = response.text or ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("error", "message", "detail", "reason") if data.get(k)]
        line = ": ".join(dict.fromkeys(parts)) if parts else json.dumps(data)
    else:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        line = lines[0] if lines else response.reason_phrase or "empty response"
    return whole_line(redact(line))


def _hint_for(status: int) -> str | None:
    if status in (401, 403):
        return "the login expired or the org id is unknown: log in again with `rlswarm login`"
    if status == 404:
        return "the proxy URL is wrong: check --proxy-url"
    return None


def register_org_id(org_id: str) -> None:
    """Mask a proxy org id in all output, unless it is the devnet proxy's public default."""
    if org_id != DEVNET_ORG_ID:
        register_secret(org_id)
