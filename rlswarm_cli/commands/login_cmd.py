"""`rlswarm login …` and `rlswarm logout`: secrets go in through a hidden prompt or stdin, never argv."""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt
from rlswarm_cli.output import Output
from rlswarm_core.errors import RlswarmError, SecretStoreError
from rlswarm_core.secrets.redact import mask, register_secret
from rlswarm_core.secrets.store import SECRETS, SecretStore, SecretValue

app = new_app("login", "Store tokens and keys in the OS keyring.")

InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-storage",
        help="With no keyring backend, keep secrets in a 0600 file in the config dir (remembered).",
    ),
]

_HEX_KEY = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")


class LoginError(RlswarmError):
    """Unusable input to a login command."""


def _read_secret(label: str, from_stdin: bool, hint: str) -> str:
    """One secret: a hidden prompt on a terminal, else the next line of stdin."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = str(typer.prompt(label, hide_input=True)).strip()
    if not value:
        raise LoginError(f"no {label} given", hint)
    register_secret(value)
    return value


def _warn_env_override(out: Output, store: SecretStore, key: str) -> None:
    current = store.get(key)
    if current.origin == "env":
        out.warn(f"{current.source} is set in the environment and overrides the stored {SECRETS[key].label}")


def _insecure_note(out: Output, stored: SecretValue, insecure_storage: bool) -> None:
    if stored.origin == "file":
        out.warn(f"stored in plain text in {stored.source} (mode 0600) because no keyring backend is usable")
    elif insecure_storage:
        out.info(f"the keyring ({stored.source}) is usable, so --insecure-storage was not needed")


@app.command("hf")
def login_hf(
    ctx: typer.Context,
    token_stdin: Annotated[
        bool,
        typer.Option(
            "--token-stdin", help="Read the token from stdin (automatic when stdin is not a terminal)."
        ),
    ] = False,
    allow_read_only: Annotated[
        bool, typer.Option("--allow-read-only", help="Store a token that cannot push (uploads will fail).")
    ] = False,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Hub URL (default: HF_ENDPOINT, else huggingface.co).")
    ] = None,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store a Hugging Face token after checking it can push to the Hub."""
    from rlswarm_core.hub import auth as hub_auth
    from rlswarm_core.settings.resolve import update_user_config

    out = output(ctx, json_out)
    store = SecretStore()
    store.check_writable("hf_token", insecure_storage)
    token = _read_secret(
        "Hugging Face token", token_stdin, "paste it at the prompt, or pipe it: rlswarm login hf < token.txt"
    )
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
    if not check.verified:
        out.warn(
            f"could not verify the token: {check.problem}; stored it unchecked "
            "('rlswarm doctor' checks it once the Hub is reachable)"
        )
    elif not check.can_write:
        out.warn(f"the token of {check.user} is read-only: uploads to the Hub will fail")
    _insecure_note(out, stored, insecure_storage)
    _warn_env_override(out, store, "hf_token")
    who = f" as {check.user}" if check.verified else ""
    scope = "" if not check.verified else (" (write)" if check.can_write else " (read-only)")
    out.emit(
        {"stored": "hf_token", "where": stored.where(), "masked": mask(token), **check.to_dict()},
        f"Hugging Face token{who}{scope} stored in {stored.where()}",
    )


@app.command("wallet")
def login_wallet(
    ctx: typer.Context,
    key_stdin: Annotated[
        bool,
        typer.Option("--key-stdin", help="Read the key from stdin (automatic when stdin is not a terminal)."),
    ] = False,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store the wallet private key used to sign coordinator transactions; shows only its address."""
    from rlswarm_core.settings.resolve import update_user_config

    out = output(ctx, json_out)
    store = SecretStore()
    store.check_writable("wallet_private_key", insecure_storage)
    raw = _read_secret("wallet private key", key_stdin, "paste it at the prompt, or pipe it on stdin")
    address, key = _wallet_address(raw)
    stored = store.set("wallet_private_key", key, insecure_storage=insecure_storage)
    update_user_config(store.paths, wallet_address=address)
    _insecure_note(out, stored, insecure_storage)
    _warn_env_override(out, store, "wallet_private_key")
    out.emit(
        {"stored": "wallet_private_key", "where": stored.where(), "address": address},
        f"wallet {address} stored in {stored.where()}",
    )


def _wallet_address(raw: str) -> tuple[str, str]:
    """(checksummed address, normalised 0x key) for a 32-byte hex private key."""
    match = _HEX_KEY.fullmatch(raw)
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


@app.command("proxy")
def login_proxy(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="Base URL of the coordinator proxy (kept in config.yaml).")
    ] = None,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store the proxy's base URL, org id and API key (org id and key read from prompts or stdin lines)."""
    from rlswarm_core.settings.resolve import load_user_config, update_user_config

    out = output(ctx, json_out)
    store = SecretStore()
    base = (url or load_user_config(store.paths).get("proxy_url") or "").rstrip("/")
    _check_proxy_url(base)
    store.check_writable("proxy_api_key", insecure_storage)
    hint = "give the org id and the API key on two lines of stdin, or at the prompts"
    org_id = _read_secret("proxy org id", False, hint)
    api_key = _read_secret("proxy API key", False, hint)
    stored = store.set("proxy_org_id", org_id, insecure_storage=insecure_storage)
    store.set("proxy_api_key", api_key, insecure_storage=insecure_storage)
    update_user_config(store.paths, proxy_url=base)
    _insecure_note(out, stored, insecure_storage)
    for key in ("proxy_org_id", "proxy_api_key"):
        _warn_env_override(out, store, key)
    out.emit(
        {"stored": ["proxy_org_id", "proxy_api_key"], "where": stored.where(), "proxy_url": base},
        f"proxy {base} credentials stored in {stored.where()}",
    )


def _check_proxy_url(base: str) -> None:
    from urllib.parse import urlsplit

    if not base:
        raise LoginError("no proxy URL given", "pass --url https://HOST[:PORT]")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in base):
        raise LoginError(f"invalid proxy URL {base!r}", "pass --url https://HOST[:PORT]")
    # The API key travels with every call: plain http only where it never leaves this machine.
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise LoginError(f"proxy URL {base!r} is not https", "use https:// (http:// only for localhost)")


@app.command("status")
def login_status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show which secrets are stored (masked) and where."""
    from rlswarm_core.settings.resolve import load_user_config

    out = output(ctx, json_out)
    store = SecretStore()
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
    data = {
        "backend": store.backend_name,
        "backend_problem": None if store.backend else store.no_backend_message(),
        "insecure_storage": bool(config.get("insecure_storage")),
        "insecure_file": str(store.file_path),
        "secrets": rows,
        "hf_user": config.get("hf_user"),
        "wallet_address": config.get("wallet_address"),
        "proxy_url": config.get("proxy_url"),
    }

    def human(console: Any) -> None:
        console.print(f"keyring backend: {data['backend'] or data['backend_problem']}", markup=False)
        for row in rows:
            if row.get("error"):
                state = f"error: {row['error']}"
            elif row["set"]:
                where = SecretValue(row["name"], None, row["origin"], row["source"]).where()
                state = f"{row['masked']}  from {where}"
            else:
                state = "not set"
            console.print(f"{row['label']:<20} {state}", markup=False)
        for key in ("hf_user", "wallet_address", "proxy_url"):
            if data[key]:
                console.print(f"{key:<20} {data[key]}", markup=False)

    out.emit(data, human)


class LogoutTarget(str, Enum):
    hf = "hf"
    wallet = "wallet"
    proxy = "proxy"
    all = "all"


_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # what: (secrets, config.yaml keys derived from them)
    "hf": (("hf_token",), ("hf_user",)),
    "wallet": (("wallet_private_key",), ("wallet_address",)),
    "proxy": (("proxy_org_id", "proxy_api_key"), ("proxy_url",)),
}


def logout(
    ctx: typer.Context,
    what: Annotated[LogoutTarget, typer.Argument(help="Which credentials to remove.")] = LogoutTarget.all,
    json_out: JsonOpt = False,
) -> None:
    """Remove stored secrets (hf, wallet, proxy or all) from the keyring and the insecure file."""
    from rlswarm_core.settings.resolve import update_user_config

    out = output(ctx, json_out)
    store = SecretStore()
    names = list(_TARGETS) if what is LogoutTarget.all else [what.value]
    removed: dict[str, list[str]] = {}
    for name in names:
        secrets, config_keys = _TARGETS[name]
        for key in secrets:
            removed[key] = store.delete(key)
            still = store.get(key)
            if still.origin == "env":
                out.warn(f"{still.source} is still set in the environment")
        update_user_config(store.paths, **dict.fromkeys(config_keys))
    gone = [key for key, places in removed.items() if places]
    out.emit(
        {"removed": removed},
        f"removed {', '.join(SECRETS[key].label for key in gone)}" if gone else "nothing was stored",
    )
