"""Storing and removing credentials: the rules behind ``rlswarm login`` and ``rlswarm logout``.

A Hugging Face token must be able to push (checked against the Hub before it is stored); a wallet key
must be 32 bytes of hex and is shown only as its address; a proxy's API key travels only over https
(plain http on loopback alone). Every function takes the value already read (the CLI reads it from a
hidden prompt or stdin, never argv) and returns what to report, including the notes to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from rlswarm_core.errors import RlswarmError, SecretStoreError
from rlswarm_core.secrets.redact import mask, register_secret
from rlswarm_core.secrets.store import SECRETS, SecretStore, SecretValue

_HEX_KEY = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
PROXY_URL_HINT = "pass --url https://HOST[:PORT]"

# what logout removes: (secrets, config.yaml keys derived from them)
LOGOUT_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hf": (("hf_token",), ("hf_user",)),
    "wallet": (("wallet_private_key",), ("wallet_address",)),
    "proxy": (("proxy_org_id", "proxy_api_key"), ("proxy_url",)),
}


class LoginError(RlswarmError):
    """Unusable input to a login command."""


@dataclass(frozen=True)
class Note:
    level: Literal["info", "warning"]
    text: str


@dataclass
class Outcome:
    """What a login or logout did: the data to report, one summary line, and notes for the operator."""

    data: dict[str, Any]
    summary: str
    notes: list[Note] = field(default_factory=list)


def require_value(value: str, label: str, hint: str) -> str:
    """A secret as read: stripped, non-empty, and registered for redaction before anything else."""
    value = value.strip()
    if not value:
        raise LoginError(f"no {label} given", hint)
    register_secret(value)
    return value


def _env_override(store: SecretStore, key: str) -> list[Note]:
    current = store.get(key)
    if current.origin == "env":
        text = f"{current.source} is set in the environment and overrides the stored {SECRETS[key].label}"
        return [Note("warning", text)]
    return []


def _storage_notes(stored: SecretValue, insecure_storage: bool) -> list[Note]:
    if stored.origin == "file":
        why = "because no keyring backend is usable"
        return [Note("warning", f"stored in plain text in {stored.source} (mode 0600) {why}")]
    if insecure_storage:
        text = f"the keyring ({stored.source}) is usable, so --insecure-storage was not needed"
        return [Note("info", text)]
    return []


# ----- Hugging Face -----------------------------------------------------------------------------------


def store_hf_token(
    store: SecretStore,
    token: str,
    *,
    endpoint: str | None = None,
    allow_read_only: bool = False,
    insecure_storage: bool = False,
) -> Outcome:
    """Check the token with the Hub (a read-only token is refused unless allowed), then store it."""
    from rlswarm_core.hub import auth as hub_auth
    from rlswarm_core.settings.resolve import update_user_config

    register_secret(token)
    if any(ch.isspace() for ch in token):
        raise LoginError(
            "the Hugging Face token contains whitespace", "paste the token alone (it starts with hf_)"
        )
    check = hub_auth.check_token(token, endpoint)
    if check.verified and not check.can_write and not allow_read_only:
        raise LoginError(
            f"the token of {check.user} is read-only ({check.role}); pushing models needs write access",
            f"create a write token at {hub_auth.TOKENS_PAGE}, or pass --allow-read-only to store it anyway",
        )
    stored = store.set("hf_token", token, insecure_storage=insecure_storage)
    update_user_config(store.paths, hf_user=check.user if check.verified else None)
    notes: list[Note] = []
    if not check.verified:
        notes.append(
            Note(
                "warning",
                f"could not verify the token: {check.problem}; stored it unchecked "
                "('rlswarm doctor' checks it once the Hub is reachable)",
            )
        )
    elif not check.can_write:
        notes.append(Note("warning", f"the token of {check.user} is read-only: uploads to the Hub will fail"))
    notes += _storage_notes(stored, insecure_storage) + _env_override(store, "hf_token")
    who = f" as {check.user}" if check.verified else ""
    scope = "" if not check.verified else (" (write)" if check.can_write else " (read-only)")
    return Outcome(
        {"stored": "hf_token", "where": stored.where(), "masked": mask(token), **check.to_dict()},
        f"Hugging Face token{who}{scope} stored in {stored.where()}",
        notes,
    )


# ----- wallet -----------------------------------------------------------------------------------------


def wallet_address(raw: str) -> tuple[str, str]:
    """(checksummed address, normalised 0x key) of a 32-byte hex private key."""
    match = _HEX_KEY.fullmatch(raw.strip())
    if not match:
        raise LoginError(
            "the wallet private key must be 32 bytes of hex (64 hex digits, optionally prefixed with 0x)",
            "export the raw private key from your wallet",
        )
    key = "0x" + match.group(1).lower()
    register_secret(key)
    from eth_account import Account

    try:
        address = str(Account.from_key(key).address)
    except Exception:
        raise LoginError(
            "the wallet private key is not a valid secp256k1 key", "export the raw private key again"
        ) from None
    return address, key


def store_wallet_key(store: SecretStore, raw: str, *, insecure_storage: bool = False) -> Outcome:
    from rlswarm_core.settings.resolve import update_user_config

    address, key = wallet_address(raw)
    stored = store.set("wallet_private_key", key, insecure_storage=insecure_storage)
    update_user_config(store.paths, wallet_address=address)
    return Outcome(
        {"stored": "wallet_private_key", "where": stored.where(), "address": address},
        f"wallet {address} stored in {stored.where()}",
        _storage_notes(stored, insecure_storage) + _env_override(store, "wallet_private_key"),
    )


# ----- proxy ------------------------------------------------------------------------------------------


def proxy_base_url(url: str | None, store: SecretStore) -> str:
    """The proxy URL to use (the given one, else the stored one), checked before any secret is asked for.

    The API key travels with every call, so plain http is allowed only where it never leaves this machine.
    """
    from urllib.parse import urlsplit

    from rlswarm_core.settings.resolve import load_user_config

    base = (url or load_user_config(store.paths).get("proxy_url") or "").rstrip("/")
    if not base:
        raise LoginError("no proxy URL given", PROXY_URL_HINT)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in base):
        raise LoginError(f"invalid proxy URL {base!r}", PROXY_URL_HINT)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise LoginError(f"proxy URL {base!r} is not https", "use https:// (http:// only for localhost)")
    return base


def store_proxy(
    store: SecretStore, base: str, org_id: str, api_key: str, *, insecure_storage: bool = False
) -> Outcome:
    from rlswarm_core.settings.resolve import update_user_config

    stored = store.set("proxy_org_id", org_id, insecure_storage=insecure_storage)
    store.set("proxy_api_key", api_key, insecure_storage=insecure_storage)
    update_user_config(store.paths, proxy_url=base)
    notes = _storage_notes(stored, insecure_storage)
    for key in ("proxy_org_id", "proxy_api_key"):
        notes += _env_override(store, key)
    return Outcome(
        {"stored": ["proxy_org_id", "proxy_api_key"], "where": stored.where(), "proxy_url": base},
        f"proxy {base} credentials stored in {stored.where()}",
        notes,
    )


# ----- status and logout ------------------------------------------------------------------------------


def status(store: SecretStore) -> dict[str, Any]:
    """Which secrets are stored (masked) and where, and the account values derived from them."""
    from rlswarm_core.settings.resolve import load_user_config

    config = load_user_config(store.paths)
    rows: list[dict[str, Any]] = []
    for spec in SECRETS.values():
        row: dict[str, Any] = {"name": spec.key, "label": spec.label}
        try:
            found = store.get(spec.key)
            row.update(set=found.is_set, masked=mask(found.value), origin=found.origin, source=found.source)
        except SecretStoreError as exc:
            row.update(set=None, masked="", origin=None, source=None, error=exc.one_line())
        rows.append(row)
    return {
        "backend": store.backend_name,
        "backend_problem": None if store.backend else store.no_backend_message(),
        "insecure_storage": bool(config.get("insecure_storage")),
        "insecure_file": str(store.file_path),
        "secrets": rows,
        "hf_user": config.get("hf_user"),
        "wallet_address": config.get("wallet_address"),
        "proxy_url": config.get("proxy_url"),
    }


def stored_where(row: dict[str, Any]) -> str:
    """Where a secret of a :func:`status` row comes from, in words."""
    return SecretValue(row["name"], None, row["origin"], row["source"]).where()


def logout(store: SecretStore, what: str = "all") -> Outcome:
    """Remove the secrets of ``what`` (hf, wallet, proxy or all) and the account values derived from them."""
    from rlswarm_core.settings.resolve import update_user_config

    names = list(LOGOUT_TARGETS) if what == "all" else [what]
    removed: dict[str, list[str]] = {}
    notes: list[Note] = []
    for name in names:
        secrets, config_keys = LOGOUT_TARGETS[name]
        for key in secrets:
            removed[key] = store.delete(key)
            still = store.get(key)
            if still.origin == "env":
                notes.append(Note("warning", f"{still.source} is still set in the environment"))
        update_user_config(store.paths, **dict.fromkeys(config_keys))
    gone = [key for key, places in removed.items() if places]
    summary = f"removed {', '.join(SECRETS[key].label for key in gone)}" if gone else "nothing was stored"
    return Outcome({"removed": removed}, summary, notes)
