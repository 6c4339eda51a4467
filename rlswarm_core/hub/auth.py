"""Checking a Hugging Face token before it is stored: who owns it, and can it push.

Pushes fail late and quietly with a read-only token, so the scope is checked at login. An
unreachable Hub is not the token's fault: the check then comes back unverified instead of failing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rlswarm_core.errors import RlswarmError
from rlswarm_core.secrets.redact import register_secret

DEFAULT_ENDPOINT = "https://huggingface.co"
TOKENS_PAGE = "https://huggingface.co/settings/tokens"
DEFAULT_TIMEOUT_S = 15.0

T = TypeVar("T")


class HubAuthError(RlswarmError):
    """The Hub rejected a token, or answered in a way that is not the Hub's."""


@dataclass(frozen=True)
class TokenCheck:
    endpoint: str
    verified: bool
    user: str | None = None
    role: str | None = None
    can_write: bool | None = None
    problem: str | None = None  # why the token could not be verified

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "verified": self.verified,
            "user": self.user,
            "role": self.role,
            "can_write": self.can_write,
            "problem": self.problem,
        }


def hub_endpoint(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (explicit or env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def token_scope(whoami: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(role, can write) from a whoami-v2 answer; fine-grained tokens write if any scope grants repo.write."""
    access = (whoami.get("auth") or {}).get("accessToken") or {}
    role = access.get("role")
    if role == "write":
        return role, True
    if role == "fineGrained":
        scoped = (access.get("fineGrained") or {}).get("scoped") or []
        return role, any("repo.write" in (entry.get("permissions") or []) for entry in scoped)
    return role, False


def check_token(token: str, endpoint: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> TokenCheck:
    register_secret(token)
    url = hub_endpoint(endpoint)
    if _truthy(os.environ.get("HF_HUB_OFFLINE")):
        return TokenCheck(url, verified=False, problem="offline mode is on (HF_HUB_OFFLINE)")

    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = HfApi(endpoint=url)
    try:
        answer = _with_deadline(lambda: api.whoami(token=token), timeout)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise HubAuthError(
                f"the Hub at {url} rejected the token (HTTP {status}: invalid, expired or revoked)",
                f"create a write token at {TOKENS_PAGE} and run 'rlswarm login hf' again",
            ) from None
        if status is None or status == 429 or status >= 500:
            return TokenCheck(url, verified=False, problem=f"the Hub answered HTTP {status}")
        raise HubAuthError(
            f"{url}/api/whoami-v2 answered HTTP {status}, which is not a Hugging Face Hub answer",
            "check HF_ENDPOINT or --endpoint",
        ) from None
    except OfflineModeIsEnabled:
        return TokenCheck(url, verified=False, problem="offline mode is on (HF_HUB_OFFLINE)")
    except Exception as exc:
        if _is_network_error(exc):
            return TokenCheck(url, verified=False, problem=f"cannot reach {url} ({type(exc).__name__})")
        raise
    if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
        raise HubAuthError(f"{url}/api/whoami-v2 gave an answer without a user name", "check HF_ENDPOINT")
    role, can_write = token_scope(answer)
    return TokenCheck(url, verified=True, user=answer["name"], role=role, can_write=can_write)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _is_network_error(exc: BaseException) -> bool:
    # huggingface_hub has used requests, httpx and httpx2 across versions: match transport errors by name.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, OSError) or bool(names & {"TransportError", "ConnectionError", "TimeoutException"})


def _with_deadline(call: Callable[[], T], timeout: float) -> T:
    """Run ``call`` with a wall-clock limit: the Hub client has no timeout of its own for whoami."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="hub-whoami", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
